/* eslint-disable no-control-regex -- GitLab's log format is made of ANSI escapes */
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { DockerExecutor } from "../../src/executors/docker/docker-executor.ts";
import type { ExecutionContext, JobResult } from "../../src/executors/executor.ts";
import type { JobSpec } from "../../src/job/spec.ts";
import { dockerSettingsFrom } from "../../src/runner/runner-config.ts";
import { localArtifactTransport } from "../../src/storage/artifacts.ts";
import { TraceWriter } from "../../src/trace/trace-writer.ts";
import { labelledDockerObjects } from "../support/docker-objects.ts";
import { requireDocker } from "./docker-helpers.ts";
import { executorJobSpec, jobVariable } from "./executor-job-spec.ts";

/** A test image with git in it (busybox has none). */
const GIT_IMAGE = "pier-test/debian:bookworm";

let docker: DockerClient;
let root: string;
let pipelineId = 0;

beforeAll(async () => {
  await requireDocker();
  docker = await connectDocker();
});

afterAll(() => {
  docker?.close();
});

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-build-tree-test-"));
  pipelineId = randomInt(1_000_000, 2_000_000_000);
});

afterEach(async () => {
  const left = await labelledDockerObjects(docker, {
    "pier.managed": "true",
    "pier.pipeline": String(pipelineId),
  });
  rmSync(root, { recursive: true, force: true });
  expect(left).toEqual([]);
});

function gitRepo(): { dir: string; sha: string } {
  const dir = join(root, "repo");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "hello.txt"), "hello\n");
  writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho ran\n", { mode: 0o755 });
  writeFileSync(join(dir, "sub", "big.bin"), Buffer.alloc(300 * 1024, 7));
  symlinkSync("hello.txt", join(dir, "link.txt"));
  const git = (...args: string[]): string =>
    execFileSync("git", ["-C", dir, "-c", "user.email=t@t", "-c", "user.name=t", ...args], {
      encoding: "utf8",
    });
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  git("add", ".");
  git("commit", "-qm", "first");
  writeFileSync(join(dir, "hello.txt"), "hello again\n");
  git("commit", "-qam", "second");
  return { dir, sha: git("rev-parse", "HEAD").trim() };
}

const SCRIPT = [
  "stat -c '%a %n' hello.txt run.sh sub link.txt",
  "readlink link.txt",
  "./run.sh",
  "wc -c < sub/big.bin",
  "git log --format=%s",
  "git fsck --connectivity-only && echo fsck-ok",
  "test ! -e .git/objects/info/alternates && echo self-contained",
];

function spec(id: number, sha: string): JobSpec {
  return executorJobSpec(
    { script: SCRIPT, variables: [jobVariable("GIT_STRATEGY", "fetch")], sha, pipelineId },
    { id, image: { name: GIT_IMAGE } },
  );
}

async function runJob(
  executor: DockerExecutor,
  job: JobSpec,
  projectDir: string,
): Promise<{ result: JobResult; log: string }> {
  const logFile = join(root, `job-${job.id}.log`);
  const trace = new TraceWriter({ maskPhrases: [], logFile });
  const ctx: ExecutionContext = {
    trace,
    signal: new AbortController().signal,
    stateDir: join(root, "state"),
    artifacts: localArtifactTransport({ runDir: join(root, "run") }),
    cacheDir: join(root, "cache"),
    projectDir,
  };
  const result = await executor.run(job, ctx);
  await trace.close();
  const log = readFileSync(logFile, "utf8")
    .replace(/\x1b\[[0-9;]*[mK]/g, "")
    .replace(/section_(start|end):\d+:[a-z_]+(\[[^\]]*\])?\r?/g, "");
  return { result, log };
}

/** Names of the containers the engine created for this test's pipeline since `since` (s). */
function createdContainers(since: number): string[] {
  const out = execFileSync(
    "docker",
    [
      "events",
      "--since",
      String(since),
      "--until",
      String(Math.ceil(Date.now() / 1000) + 1),
      "--filter",
      "type=container",
      "--filter",
      "event=create",
      "--filter",
      `label=pier.pipeline=${String(pipelineId)}`,
      "--format",
      "{{.Actor.Attributes.name}}",
    ],
    { encoding: "utf8" },
  );
  return out.split("\n").filter((line) => line !== "");
}

function expectBuildTree(log: string): void {
  expect(log).toContain("666 hello.txt");
  expect(log).toContain("777 run.sh");
  expect(log).toContain("777 sub");
  expect(log).toContain("777 link.txt");
  expect(log).toContain("\nhello.txt");
  expect(log).toContain("\nran");
  expect(log).toContain(String(300 * 1024));
  expect(log).toMatch(/second\s+first/);
  expect(log).toContain("fsck-ok");
  expect(log).toContain("self-contained");
}

describe("the Docker executor's build tree", { timeout: 180_000 }, () => {
  it("goes in through an archive helper for a job alone and straight in for jobs at once, the same tree either way, and nothing stays", async () => {
    const repo = gitRepo();
    const executor = new DockerExecutor({
      docker,
      settings: dockerSettingsFrom({}),
      runnerName: "test-runner",
    });
    const since = Math.floor(Date.now() / 1000) - 1;

    const alone = await runJob(executor, spec(1, repo.sha), repo.dir);
    expect(alone.result.status, alone.log).toBe("success");
    expectBuildTree(alone.log);

    const together = await Promise.all([
      runJob(executor, spec(2, repo.sha), repo.dir),
      runJob(executor, spec(3, repo.sha), repo.dir),
    ]);
    for (const { result, log } of together) {
      expect(result.status, log).toBe("success");
      expectBuildTree(log);
    }

    const created = createdContainers(since);
    // Job 1 alone: its build container and a helper; jobs 2 and 3 at once: no helper.
    expect(created.filter((name) => name.endsWith("-archive"))).toHaveLength(1);
    expect(created.filter((name) => name.endsWith("-build"))).toHaveLength(3);
    expect(created.find((name) => name.endsWith("-archive"))).toMatch(
      new RegExp(`^pier-${String(pipelineId)}-1-`),
    );
  });

  it("keeps the job's output and exit code when the script fails, and removes the anonymous build volume", async () => {
    const repo = gitRepo();
    const executor = new DockerExecutor({
      docker,
      settings: dockerSettingsFrom({}),
      runnerName: "test-runner",
    });
    const job = executorJobSpec(
      { script: ["cat hello.txt", "exit 3"], sha: repo.sha, pipelineId },
      { id: 4, image: { name: "busybox:latest" } },
    );
    job.variables = [jobVariable("GIT_STRATEGY", "fetch")];
    const { result, log } = await runJob(executor, job, repo.dir);
    expect(result.status).toBe("failed");
    expect(result.exitCode).toBe(3);
    expect(log).toContain("hello again");
  });
});
