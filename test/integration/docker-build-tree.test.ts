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

/** The engine's events since `since` (s) that pass `filters`: `format` of each. */
function engineEvents(since: number, filters: string[], format: string): string[] {
  const out = execFileSync(
    "docker",
    [
      "events",
      "--since",
      String(since),
      "--until",
      String(Math.ceil(Date.now() / 1000) + 1),
      ...filters.flatMap((filter) => ["--filter", filter]),
      "--format",
      format,
    ],
    { encoding: "utf8" },
  );
  return out.split("\n").filter((line) => line !== "");
}

/** Names of the containers the engine created for this test's pipeline since `since` (s). */
function createdContainers(since: number): string[] {
  return engineEvents(
    since,
    ["event=create", "type=container", `label=pier.pipeline=${String(pipelineId)}`],
    "{{.Actor.Attributes.name}}",
  );
}

/** Containers of this test's pipeline that the archive API put files into since `since` (s). */
function archiveExtractions(since: number): string[] {
  return engineEvents(
    since,
    ["event=extract-to-dir", "type=container", `label=pier.pipeline=${String(pipelineId)}`],
    "{{.Actor.Attributes.name}}",
  );
}

/** Volumes mounted into this test's pipeline's containers since `since` (s). */
function mountedVolumes(since: number): string[] {
  const ours = new Set(
    engineEvents(
      since,
      ["event=create", "type=container", `label=pier.pipeline=${String(pipelineId)}`],
      "{{.Actor.ID}}",
    ),
  );
  return engineEvents(
    since,
    ["event=mount", "type=volume"],
    "{{.Actor.Attributes.container}} {{.Actor.ID}}",
  ).filter((line) => ours.has(line.split(" ")[0] ?? ""));
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

/**
 * A local image made from GIT_IMAGE by `docker commit`, removed by the caller. Not from
 * busybox: its sh runs its own applets (tar, head) even when their files are gone.
 */
function commitImage(tag: string, command: string[], changes: string[]): void {
  const name = `pier-build-tree-${String(pipelineId)}`;
  execFileSync("docker", [
    "run",
    "--name",
    name,
    "--label",
    "pier.managed=true",
    GIT_IMAGE,
    ...command,
  ]);
  try {
    execFileSync("docker", [
      "commit",
      ...changes.flatMap((change) => ["--change", change]),
      name,
      tag,
    ]);
  } finally {
    execFileSync("docker", ["rm", name]);
  }
}

function newExecutor(): DockerExecutor {
  return new DockerExecutor({
    docker,
    settings: dockerSettingsFrom({}),
    runnerName: "test-runner",
  });
}

describe("the Docker executor's build tree", { timeout: 180_000 }, () => {
  it("goes in on stdin for a root image, alone or with other jobs at once, with no helper and no volume, and nothing stays", async () => {
    const repo = gitRepo();
    const executor = newExecutor();
    const since = Math.floor(Date.now() / 1000) - 1;

    const alone = await runJob(executor, spec(1, repo.sha), repo.dir);
    expect(alone.result.status, alone.log).toBe("success");
    expectBuildTree(alone.log);

    // busybox's `head -c` reads past its count: the script must not be sent before the tree is in.
    const busybox = executorJobSpec(
      {
        script: ["cat hello.txt", "wc -c < sub/big.bin"],
        variables: [jobVariable("GIT_STRATEGY", "fetch")],
        sha: repo.sha,
        pipelineId,
      },
      { image: { name: "busybox:latest" } },
    );
    const together = await Promise.all([
      runJob(executor, spec(2, repo.sha), repo.dir),
      runJob(executor, { ...busybox, id: 3 }, repo.dir),
      runJob(executor, { ...busybox, id: 4 }, repo.dir),
    ]);
    for (const { result, log } of together) expect(result.status, log).toBe("success");
    expectBuildTree(together[0].log);
    for (const { log } of together.slice(1)) {
      expect(log).toContain("hello again");
      expect(log).toContain(String(300 * 1024));
      expect(log).not.toContain("pier-sources-");
    }

    const created = createdContainers(since);
    expect(created.filter((name) => name.endsWith("-archive"))).toEqual([]);
    expect(created.filter((name) => name.endsWith("-build"))).toHaveLength(4);
    expect(mountedVolumes(since)).toEqual([]);
    expect(archiveExtractions(since)).toEqual([]);
  });

  it("goes in by the archive API for a job that is not root (through a helper when alone), an image without tar, and behind an entrypoint, whose output is kept", async () => {
    const repo = gitRepo();
    const executor = newExecutor();
    const noTar = `pier-test/no-tar:${String(pipelineId)}`;
    const noisy = `pier-test/noisy-entrypoint:${String(pipelineId)}`;
    commitImage(noTar, ["rm", "/usr/bin/tar"], []);
    // Output without a newline, then our command: an entrypoint stands between pier and it.
    commitImage(
      noisy,
      ["true"],
      ['ENTRYPOINT ["/bin/sh", "-c", "printf starting...; exec \\"$@\\"", "sh"]'],
    );
    try {
      const since = Math.floor(Date.now() / 1000) - 1;
      const job = (id: number, extra: Partial<JobSpec>): JobSpec =>
        executorJobSpec(
          {
            script: ["id -u", "cat hello.txt", "./run.sh"],
            afterScript: ["echo after; cat hello.txt"],
            variables: [jobVariable("GIT_STRATEGY", "fetch")],
            sha: repo.sha,
            pipelineId,
          },
          { id, ...extra },
        );
      const nonRoot = (id: number): JobSpec =>
        job(id, {
          image: { name: "busybox:latest", executor_opts: { docker: { user: "1000" } } },
        });
      const alone = await runJob(executor, nonRoot(1), repo.dir);
      expect(alone.result.status, alone.log).toBe("success");
      expect(alone.log).toMatch(/\n1000\n/);
      expect(alone.log).toContain("hello again");

      const together = await Promise.all([
        runJob(executor, nonRoot(2), repo.dir),
        runJob(executor, job(3, { image: { name: noTar } }), repo.dir),
        runJob(executor, job(4, { image: { name: noisy } }), repo.dir),
        runJob(
          executor,
          job(5, { image: { name: "busybox:latest", entrypoint: ["/bin/sh", "-c"] } }),
          repo.dir,
        ),
      ]);
      for (const { result, log } of together) {
        expect(result.status, log).toBe("success");
        expect(log).toContain("hello again");
        expect(log).toContain("\nran");
        expect(log).toMatch(/after\s+hello again/);
        expect(log).not.toContain("pier-sources-");
      }
      expect(together[2]?.log).toContain("starting...");

      const created = createdContainers(since);
      expect(created.filter((name) => name.endsWith("-archive"))).toEqual([
        expect.stringMatching(new RegExp(`^pier-${String(pipelineId)}-1-`)),
      ]);
      // Job 1 through its helper, the others straight into their own container.
      expect(archiveExtractions(since).sort()).toEqual(
        [1, 2, 3, 4, 5].map((id): unknown =>
          expect.stringMatching(
            new RegExp(
              `^pier-${String(pipelineId)}-${String(id)}-.*-${id === 1 ? "archive" : "build"}$`,
            ),
          ),
        ),
      );
    } finally {
      execFileSync("docker", ["image", "rm", noTar, noisy]);
    }
  });

  it("keeps the job's output and exit code when the script fails, and nothing stays", async () => {
    const repo = gitRepo();
    const executor = newExecutor();
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

  it("fails the job with a clear message when the image's tar cannot unpack the tree", async () => {
    const repo = gitRepo();
    const brokenTar = `pier-test/broken-tar:${String(pipelineId)}`;
    commitImage(
      brokenTar,
      ["sh", "-c", "printf '#!/bin/sh\\ncat >/dev/null; exit 2\\n' > /usr/bin/tar"],
      [],
    );
    try {
      const job = executorJobSpec(
        { script: ["echo the script ran"], sha: repo.sha, pipelineId },
        { id: 5, image: { name: brokenTar } },
      );
      job.variables = [jobVariable("GIT_STRATEGY", "fetch")];
      const { result, log } = await runJob(newExecutor(), job, repo.dir);
      expect(result.status).toBe("failed");
      expect(log).toContain("pier: the sources could not be unpacked in the container");
      expect(log).not.toContain("the script ran");
    } finally {
      execFileSync("docker", ["image", "rm", brokenTar]);
    }
  });
});
