/* eslint-disable no-control-regex -- GitLab's log format is made of ANSI escapes */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JobFailure, type ExecutionContext } from "../../src/executors/executor.ts";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import type { JobSpec } from "../../src/job/spec.ts";
import { localArtifactTransport, type ArtifactTransport } from "../../src/storage/artifacts.ts";
import { removalsSettled } from "../../src/storage/remove-aside.ts";
import { TraceWriter } from "../../src/trace/trace-writer.ts";
import { executorJobSpec } from "./executor-job-spec.ts";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-shell-stages-"));
});

afterEach(async () => {
  await removalsSettled();
  rmSync(root, { recursive: true, force: true });
});

function job(script: string[], extra: Partial<JobSpec> = {}): JobSpec {
  return executorJobSpec({ script }, { id: 7, ...extra });
}

async function run(
  spec: JobSpec,
  ctx: Partial<ExecutionContext> = {},
): Promise<{ status: string; failureReason: string | undefined; log: string }> {
  const logFile = join(root, "job.log");
  const trace = new TraceWriter({ logFile });
  try {
    const result = await new ShellExecutor({ killGraceMs: 1000 }).run(spec, {
      trace,
      signal: new AbortController().signal,
      stateDir: join(root, "state"),
      artifacts: localArtifactTransport({ runDir: join(root, "run") }),
      cacheDir: join(root, "cache"),
      ...ctx,
    });
    await trace.close();
    return {
      status: result.status,
      failureReason: result.failureReason,
      log: readFileSync(logFile, "utf8")
        .replace(/\x1b\[[0-9;]*[mK]/g, "")
        .replace(/\r/g, ""),
    };
  } finally {
    await trace.close().catch(() => undefined);
  }
}

describe("shell executor job stages", () => {
  it("lays the build out under builds_dir as gitlab-runner does", async () => {
    const buildsDir = join(root, "builds");
    const { status, log } = await run(job(['echo "dirs:$CI_BUILDS_DIR|$CI_PROJECT_DIR|$PWD"']), {
      buildsDir,
      runnerShortToken: "abcdefghi",
    });
    expect(status, log).toBe("success");
    const match = /^dirs:(.*)\|(.*)\|(.*)$/m.exec(log);
    expect(match, log).not.toBeNull();
    const [, ciBuildsDir, ciProjectDir, pwd] = match ?? [];
    expect(ciBuildsDir).toBe(buildsDir);
    expect(ciProjectDir).toMatch(
      new RegExp(
        `^${buildsDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/abcdefghi/\\d+/group/project$`,
      ),
    );
    expect(pwd).toBe(ciProjectDir);
  });

  it("adds no line of its own after a transport that reported its upload", async () => {
    const local = localArtifactTransport({ runDir: join(root, "run") });
    const reporting: ArtifactTransport = {
      download: (dep, target, signal) => local.download(dep, target, signal),
      upload: async (...args) => ({ ...(await local.upload(...args)), reported: true }),
    };
    const artifacts: JobSpec["artifacts"] = [
      {
        untracked: false,
        paths: ["out.txt"],
        when: "on_success",
        artifact_type: "archive",
        artifact_format: "zip",
      },
    ];
    const spec = job(["echo hi > out.txt"], { artifacts });

    const quiet = await run(spec, { artifacts: reporting });
    expect(quiet.status, quiet.log).toBe("success");
    expect(quiet.log).toContain("out.txt: found 1 matching artifact files and directories");
    expect(quiet.log).not.toContain("to the run's folder");

    const plain = await run({ ...spec, id: 8 });
    expect(plain.log).toContain(`Uploading artifacts as "archive" to the run's folder... ok`);
  });

  it("ends a job whose dependency the transport refuses with that failure, not a system failure", async () => {
    const refusing: ArtifactTransport = {
      download: () =>
        Promise.reject(
          new JobFailure("forbidden: artifacts of build (3)", "missing_dependency_failure"),
        ),
      upload: () => Promise.reject(new Error("not reached")),
    };
    const dependencies: JobSpec["dependencies"] = [
      {
        id: 3,
        name: "build",
        token: "dependency-token",
        artifacts_file: { filename: "artifacts.zip", size: 10 },
      },
    ];
    const { status, failureReason, log } = await run(
      job(["echo should-not-run"], { dependencies }),
      {
        artifacts: refusing,
      },
    );
    expect(status).toBe("failed");
    expect(failureReason).toBe("missing_dependency_failure");
    expect(log).toContain("Downloading artifacts for build (3)...");
    expect(log).not.toContain("should-not-run");
    expect(log).not.toContain("system failure");
    expect(log.trimEnd()).toMatch(/ERROR: Job failed: forbidden: artifacts of build \(3\)$/);
  });
});
