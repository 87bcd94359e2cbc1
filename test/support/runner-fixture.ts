import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunnerConfig } from "../../src/runner/config-toml.ts";
import type { RunnerLog } from "../../src/runner/runner-log.ts";
import { RunnerService } from "../../src/runner/runner-service.ts";
import { FakeGitLab } from "./fake-gitlab/fake-gitlab.ts";
import { makeRepository } from "./pier-cli.ts";

export const quietRunnerLog: RunnerLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** A GitLab stand-in serving one project, a runner token for it, and a state dir for pier. */
export interface RunnerFixture {
  fake: FakeGitLab;
  token: string;
  stateDir: string;
  /** Starts a service on `config` with test-sized intervals; stopped by `close`. */
  startService(config: RunnerConfig): RunnerService;
  /** Stops the services (forcefully), the stand-in, and removes the folders. */
  close(): Promise<void>;
}

export async function startRunnerFixture(files: Record<string, string>): Promise<RunnerFixture> {
  const fake = await FakeGitLab.start();
  fake.traceUpdateInterval = 0.2;
  const repo = makeRepository(files);
  fake.addProject("group/project", repo);
  const stateDir = mkdtempSync(join(tmpdir(), "pier-runner-fixture-"));
  const services: RunnerService[] = [];
  return {
    fake,
    token: fake.createRunner(),
    stateDir,
    startService(config) {
      const service = new RunnerService({
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
    async close() {
      for (const service of services.splice(0)) await service.stopForcefully(30_000);
      await fake.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(repo, { recursive: true, force: true });
    },
  };
}
