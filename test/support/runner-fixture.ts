import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  parseRunnerConfig,
  type RunnerConfig,
  type RunnerEntry,
} from "../../src/runner/config-toml.ts";
import type { RunnerLog } from "../../src/runner/runner-log.ts";
import { RunnerService, type RunnerServiceOptions } from "../../src/runner/runner-service.ts";
import { shortToken } from "../../src/runner/short-token.ts";
import { FakeGitLab, type FakeJob } from "./fake-gitlab/fake-gitlab.ts";
import { makeRepository } from "./pier-cli.ts";

export const quietRunnerLog: RunnerLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** What a test may set on a service besides its config (the rest is test-sized by the fixture). */
export type ServiceHooks = Pick<RunnerServiceOptions, "forceSendIntervalMs" | "onJobFinished">;

/** A GitLab stand-in serving one project, a runner token for it, and a state dir for pier. */
export interface RunnerFixture {
  fake: FakeGitLab;
  token: string;
  stateDir: string;
  /** Starts a service on `config` with test-sized intervals; stopped by `close`. */
  startService(config: RunnerConfig, hooks?: ServiceHooks): RunnerService;
  /** config.toml with one shell runner for the stand-in (concurrent = 1 unless `global` says). */
  shellConfig(entry?: Partial<RunnerEntry>, global?: RunnerConfig["global"]): RunnerConfig;
  /** config.toml with one docker runner for the stand-in: busybox, never pulled (offline). */
  dockerConfig(): RunnerConfig;
  /** The job's log as the runner keeps it under the state dir. */
  localLog(job: FakeJob): Buffer;
  /** Stops the services (forcefully), the stand-in, and removes the folders. */
  close(): Promise<void>;
}

export async function startRunnerFixture(files: Record<string, string>): Promise<RunnerFixture> {
  const fake = await FakeGitLab.start();
  fake.traceUpdateInterval = 0.2;
  const repo = makeRepository(files);
  fake.addProject("group/project", repo);
  const token = fake.createRunner();
  const stateDir = mkdtempSync(join(tmpdir(), "pier-runner-fixture-"));
  const services: RunnerService[] = [];
  return {
    fake,
    token,
    stateDir,
    startService(config, hooks = {}) {
      const service = new RunnerService({
        ...hooks,
        config,
        configFile: join(stateDir, "config.toml"),
        systemId: "s_0123456789ab",
        stateDir,
        log: quietRunnerLog,
        checkIntervalMs: 100,
        traceUpdateIntervalMs: 200,
        client: { baseDelayMs: 20, maxDelayMs: 200 },
      });
      services.push(service);
      void service.start();
      return service;
    },
    shellConfig(entry = {}, global = {}) {
      return {
        global: { concurrent: 1, ...global },
        runners: [
          { name: "test runner", url: fake.url, token, executor: "shell", extra: {}, ...entry },
        ],
        extra: {},
      };
    },
    dockerConfig() {
      return parseRunnerConfig(`concurrent = 1
[[runners]]
  name = "docker runner"
  url = "${fake.url}"
  token = "${token}"
  executor = "docker"
  [runners.docker]
    image = "busybox:latest"
    pull_policy = ["never"]
`).config;
    },
    localLog(job) {
      return readFileSync(join(stateDir, "runner", shortToken(token), "jobs", `${job.id}.log`));
    },
    async close() {
      for (const service of services.splice(0)) await service.stopForcefully(30_000);
      await fake.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(repo, { recursive: true, force: true });
    },
  };
}
