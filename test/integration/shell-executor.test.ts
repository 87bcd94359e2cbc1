/* eslint-disable no-control-regex -- GitLab's log format is made of ANSI escapes */
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobResult } from "../../src/executors/executor.ts";
import type { HostShell } from "../../src/executors/shell/find-shell.ts";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import type { JobSpec, JobVariable } from "../../src/job/spec.ts";
import { localArtifactTransport } from "../../src/storage/artifacts.ts";
import { removalsSettled } from "../../src/storage/remove-aside.ts";
import { maskPhrases } from "../../src/trace/mask-phrases.ts";
import { TraceWriter } from "../../src/trace/trace-writer.ts";
import { executorJobSpec, jobVariable } from "./executor-job-spec.ts";

const variable = jobVariable;

function jobSpec(options: {
  script: string[];
  afterScript?: string[];
  variables?: JobVariable[];
  timeoutSeconds?: number;
  sha?: string;
}): JobSpec {
  return executorJobSpec(options);
}

interface JobRun {
  result: JobResult;
  log: string;
}

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-shell-test-"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Runs a JobSpec with the shell executor; returns its result and the text of its log file. */
async function runJob(
  spec: JobSpec,
  options: {
    signal?: AbortSignal;
    hardKill?: AbortSignal;
    onData?: (chunk: Buffer) => void;
    hostEnv?: NodeJS.ProcessEnv;
    shell?: HostShell;
    projectDir?: string;
    logName?: string;
  } = {},
): Promise<JobRun> {
  const logFile = join(root, "logs", options.logName ?? "job.log");
  const trace = new TraceWriter({
    maskPhrases: maskPhrases(spec.variables),
    logFile,
    ...(options.onData !== undefined && { onData: options.onData }),
  });
  const executor = new ShellExecutor({
    killGraceMs: 1000,
    ...(options.hostEnv !== undefined && { hostEnv: options.hostEnv }),
    ...(options.shell !== undefined && { shell: options.shell }),
  });
  let result: JobResult;
  try {
    result = await executor.run(spec, {
      trace,
      signal: options.signal ?? new AbortController().signal,
      ...(options.hardKill !== undefined && { hardKill: options.hardKill }),
      ...(options.projectDir !== undefined && { projectDir: options.projectDir }),
      stateDir: join(root, "state"),
      artifacts: localArtifactTransport({ runDir: join(root, "run") }),
      cacheDir: join(root, "cache"),
    });
  } finally {
    await trace.close();
  }
  return { result, log: readFileSync(logFile, "utf8") };
}

function processList(): string {
  return execFileSync("ps", ["-eo", "pid,args"], { encoding: "utf8" });
}

/** Text of the log without ANSI colours and section markers' control bytes. */
function plain(log: string): string {
  return log.replace(/\x1b\[[0-9;]*[mK]/g, "").replace(/\r/g, "");
}

describe("shell executor", () => {
  it("runs a successful job and writes GitLab's log format", async () => {
    const { result, log } = await runJob(jobSpec({ script: ["echo hello from job"] }));
    expect(result.status).toBe("success");
    expect(result.exitCode).toBeUndefined();
    expect(result.durationMs).toBeGreaterThan(0);
    expect(log).toMatch(/^\x1b\[0KRunning with pier /);
    expect(log).toContain("\x1b[32;1m$ echo hello from job\x1b[0;m\nhello from job\n");
    expect(log).toMatch(
      /section_start:\d+:step_script\r\x1b\[0K\x1b\[0K\x1b\[36;1mExecuting "step_script" stage of the job script/,
    );
    expect(log).toMatch(/section_end:\d+:step_script\r\x1b\[0K/);
    expect(log).toMatch(/section_start:\d+:prepare_executor\r/);
    expect(log).toMatch(/section_start:\d+:cleanup_file_variables\r/);
    expect(log.endsWith("\x1b[32;1mJob succeeded\x1b[0;m\n")).toBe(true);
  });

  it("fails with the script's exit code and stops at the first failing command", async () => {
    const { result, log } = await runJob(
      jobSpec({ script: ["echo one", "(exit 3)", "echo never-printed"] }),
    );
    expect(result).toMatchObject({
      status: "failed",
      exitCode: 3,
      failureReason: "script_failure",
    });
    expect(log).not.toContain("never-printed");
    expect(log).toContain("\x1b[31;1mERROR: Job failed: exit code 3\x1b[0;m\n");
  });

  it("runs before_script and script in one shell with pipefail", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: [
          "export FROM_BEFORE=kept; cd /",
          'echo "v=$FROM_BEFORE pwd=$PWD"',
          "false | true",
          "echo after-pipe",
        ],
      }),
    );
    expect(plain(log)).toContain("v=kept pwd=/\n");
    expect(result).toMatchObject({ status: "failed", exitCode: 1 });
    expect(log).not.toContain("\nafter-pipe");
  });

  it("runs after_script in its own shell with CI_JOB_STATUS", async () => {
    const ok = await runJob(
      jobSpec({
        script: ["export ONLY_IN_SCRIPT=1"],
        afterScript: ['echo "status=$CI_JOB_STATUS only=${ONLY_IN_SCRIPT:-unset}"'],
      }),
      { logName: "ok.log" },
    );
    expect(ok.result.status).toBe("success");
    expect(plain(ok.log)).toContain("Running after script...\n$ echo");
    expect(ok.log).toContain("status=success only=unset\n");

    const failed = await runJob(
      jobSpec({ script: ["exit 2"], afterScript: ['echo "status=$CI_JOB_STATUS"', "exit 5"] }),
      { logName: "failed.log" },
    );
    expect(failed.result).toMatchObject({ status: "failed", exitCode: 2 });
    expect(failed.log).toContain("status=failed\n");
    expect(failed.log).toContain(
      "WARNING: after_script failed, but job will continue unaffected: exit code 5",
    );
  });

  it("enforces the job timeout, then still runs after_script", async () => {
    const started = Date.now();
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo started", "sleep 30"],
        afterScript: ["echo after=$CI_JOB_STATUS"],
        timeoutSeconds: 1,
      }),
    );
    expect(result).toMatchObject({ status: "failed", failureReason: "job_execution_timeout" });
    expect(result.exitCode).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(log).toContain("after=timedout\n");
    expect(log).toContain("ERROR: Job failed: execution took longer than 1s seconds");
  });

  it("honours RUNNER_SCRIPT_TIMEOUT", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: ["sleep 30"],
        afterScript: ["echo after=$CI_JOB_STATUS"],
        variables: [variable("GIT_STRATEGY", "none"), variable("RUNNER_SCRIPT_TIMEOUT", "1s")],
      }),
    );
    expect(result).toMatchObject({ status: "failed", failureReason: "job_execution_timeout" });
    expect(log).toContain("after=timedout\n");
    expect(log).toContain("ERROR: Job failed: execution took longer than 1s seconds");
  });

  it("honours RUNNER_AFTER_SCRIPT_TIMEOUT", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: ["true"],
        afterScript: ["sleep 30"],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("RUNNER_AFTER_SCRIPT_TIMEOUT", "1s"),
        ],
      }),
    );
    expect(result.status).toBe("success");
    expect(log).toContain(
      "after_script failed, but job will continue unaffected: execution took longer than 1s seconds",
    );
  });

  it("cancels mid-script: after_script runs, the result is canceled", async () => {
    const cancel = new AbortController();
    let seen = "";
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo job-is-running", "sleep 30", "echo never"],
        afterScript: ["echo after=$CI_JOB_STATUS"],
      }),
      {
        signal: cancel.signal,
        onData: (chunk) => {
          seen += chunk.toString();
          if (seen.includes("job-is-running\n")) cancel.abort();
        },
      },
    );
    expect(result.status).toBe("canceled");
    expect(log).not.toContain("\nnever");
    expect(log).toContain("after=canceled\n");
    expect(log).toContain("ERROR: Job failed: canceled");
  });

  it("a hard kill skips after_script and ends at once", async () => {
    const cancel = new AbortController();
    const hardKill = new AbortController();
    let seen = "";
    const started = Date.now();
    const { result, log } = await runJob(
      jobSpec({
        script: ["trap '' TERM", "echo running", "sleep 30"],
        afterScript: ["echo after-ran"],
      }),
      {
        signal: cancel.signal,
        hardKill: hardKill.signal,
        onData: (chunk) => {
          seen += chunk.toString();
          if (seen.includes("running\n")) {
            cancel.abort();
            hardKill.abort();
          }
        },
      },
    );
    expect(result.status).toBe("canceled");
    expect(log).not.toContain("after-ran");
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("leaves no background process behind, setsid escapees included", async () => {
    const marker = `pier-bg-${randomUUID()}`;
    const { result, log } = await runJob(
      jobSpec({
        script: [
          `bash -c 'exec -a ${marker}-group sleep 1000' &`,
          `setsid bash -c 'exec -a ${marker}-setsid sleep 1000' &`,
          `nohup bash -c 'exec -a ${marker}-nohup sleep 1000' >/dev/null 2>&1 &`,
          "sleep 0.3",
          `ps -eo args | grep -c '[${marker[0]}]${marker.slice(1)}'`,
        ],
        afterScript: [`bash -c 'exec -a ${marker}-after sleep 1000' &`],
      }),
    );
    expect(result.status).toBe("success");
    // All three were running during the job.
    expect(log).toMatch(/^3$/m);
    expect(processList()).not.toContain(marker);
  });

  it("falls back to sh (no pipefail there) with the same echo and errexit", async () => {
    const { result, log } = await runJob(
      jobSpec({ script: ["false | true", "echo after-pipe", "exit 4", "echo never-printed"] }),
      { shell: { kind: "sh", path: "/usr/bin/dash" } },
    );
    expect(plain(log)).toContain("Using Shell (sh) executor...");
    expect(plain(log)).toContain("$ echo after-pipe\nafter-pipe\n");
    expect(result).toMatchObject({ status: "failed", exitCode: 4 });
    expect(log).not.toContain("\nnever-printed");
  });

  it("kills running jobs when pier's process exits", async () => {
    const marker = `pier-exit-${randomUUID()}`;
    const script = join(root, "exits-mid-job.mts");
    const repo = process.cwd();
    writeFileSync(
      script,
      [
        `import { ShellExecutor } from ${JSON.stringify(join(repo, "src/executors/shell/shell-executor.ts"))};`,
        `import { TraceWriter } from ${JSON.stringify(join(repo, "src/trace/trace-writer.ts"))};`,
        `import { localArtifactTransport } from ${JSON.stringify(join(repo, "src/storage/artifacts.ts"))};`,
        `const spec = JSON.parse(process.argv[2]);`,
        `let seen = "";`,
        `const trace = new TraceWriter({ onData: (c) => { seen += c; if (seen.includes("bg-started")) { console.log("exiting"); process.exit(0); } } });`,
        `await new ShellExecutor().run(spec, { trace, signal: new AbortController().signal, stateDir: ${JSON.stringify(join(root, "state"))}, artifacts: localArtifactTransport({ runDir: ${JSON.stringify(join(root, "run"))} }), cacheDir: ${JSON.stringify(join(root, "cache"))} });`,
      ].join("\n"),
    );
    const spec = jobSpec({
      script: [
        `bash -c 'exec -a ${marker} sleep 1000' &`,
        "sleep 0.2",
        "echo bg-started",
        "sleep 1000",
      ],
    });
    const tsx = join(repo, "node_modules", "tsx", "dist", "esm", "index.mjs");
    const child = spawn(process.execPath, ["--import", tsx, script, JSON.stringify(spec)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(output).toContain("exiting");
    expect(code).toBe(0);
    expect(processList()).not.toContain(marker);
  });

  it("writes file variables to files and removes them after the job", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: ['echo "path=$MY_CONFIG"', 'echo "content=$(cat "$MY_CONFIG")"'],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("MY_CONFIG", "line1 of config", { file: true }),
        ],
      }),
    );
    expect(result.status).toBe("success");
    const path = /^path=(\S+)/m.exec(log)?.[1] ?? "";
    expect(path).toMatch(/\.tmp\/MY_CONFIG$/);
    expect(log).toContain("content=line1 of config\n");
    expect(existsSync(path)).toBe(false);
  });

  it("expands variables at run time, raw ones kept literal", async () => {
    const { log } = await runJob(
      jobSpec({
        script: ['echo "a=$A b=$B c=$C"'],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("BASE", "base"),
          variable("A", "$BASE-x"),
          variable("B", "$BASE-$$-y", { raw: true }),
          variable("C", "cost $$5 $UNKNOWN."),
        ],
      }),
    );
    expect(log).toContain("a=base-x b=$BASE-$$-y c=cost $5 .\n");
  });

  it("never writes a masked value to the log, even printed in pieces", async () => {
    const secret = "Sup3r-S3cret-Value-42";
    const { result, log } = await runJob(
      jobSpec({
        script: [
          'echo "whole: $MY_SECRET"',
          `printf '%s' 'pieces: ${secret.slice(0, 7)}'; sleep 0.2; printf '%s' '${secret.slice(7, 12)}'; sleep 0.2; printf '%s\\n' '${secret.slice(12)}'`,
          'printf "%s" "$MY_SECRET" | head -c 10 >&2; sleep 0.2; printf "%s\\n" "$MY_SECRET" | tail -c +11',
        ],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("MY_SECRET", secret, { masked: true }),
        ],
      }),
    );
    expect(log).not.toContain(secret);
    expect(result.status, plain(log)).toBe("success");
    expect(log).toContain("whole: [MASKED]\n");
    expect(log).toContain("pieces: [MASKED]\n");
    expect(log.match(/\[MASKED\]/g)?.length).toBe(3);
  });

  it("passes only allow-listed host variables, with its own HOME and TMPDIR", async () => {
    const { log } = await runJob(
      jobSpec({
        script: [
          'echo "secret=${SECRET_HOST_VAR:-unset} lang=$LANG"',
          'echo "home=$HOME tmp=$TMPDIR"',
          "touch $HOME/x $TMPDIR/y",
        ],
      }),
      {
        hostEnv: {
          PATH: process.env["PATH"] ?? "/usr/bin:/bin",
          LANG: "C.UTF-8",
          SECRET_HOST_VAR: "leaked",
        },
      },
    );
    expect(log).toContain("secret=unset lang=C.UTF-8\n");
    const home = /^home=(\S+)/m.exec(log)?.[1] ?? "";
    expect(home.startsWith(join(root, "state", "builds")), home).toBe(true);
    expect(/^home=\S+ tmp=(\S+)$/m.exec(log)?.[1]?.startsWith(join(root, "state", "builds"))).toBe(
      true,
    );
  });

  it("gives two concurrent jobs of one project different slots and build folders", async () => {
    const script = [
      'echo "dir=$CI_PROJECT_DIR id=$CI_CONCURRENT_ID pid=$CI_CONCURRENT_PROJECT_ID"',
      "touch mine; sleep 0.5; ls",
    ];
    const [first, second] = await Promise.all([
      runJob(jobSpec({ script }), { logName: "a.log" }),
      runJob(jobSpec({ script }), { logName: "b.log" }),
    ]);
    const dirOf = (run: JobRun | undefined) => /^dir=(\S+)/m.exec(run?.log ?? "")?.[1];
    expect(dirOf(first)).toBeDefined();
    expect(dirOf(first)).not.toBe(dirOf(second));
    expect(first?.log).toMatch(/id=\d pid=\d/);
    expect(/ id=(\d)/.exec(first?.log ?? "")?.[1]).not.toBe(
      / id=(\d)/.exec(second?.log ?? "")?.[1],
    );
    // Each sees only its own file.
    expect(plain(first?.log ?? "")).toMatch(/\$ touch mine; sleep 0.5; ls\nmine\n/);
    expect(plain(second?.log ?? "")).toMatch(/\$ touch mine; sleep 0.5; ls\nmine\n/);
    // Build folders are moved aside once the jobs end, and deleted in the background.
    for (const run of [first, second]) expect(existsSync(dirOf(run) ?? "")).toBe(false);
    await removalsSettled();
    const builds = join(root, "state", "builds");
    const leftovers = existsSync(builds)
      ? readdirSync(builds, { recursive: true }).map(String)
      : [];
    expect(leftovers.filter((entry) => entry.endsWith("mine"))).toEqual([]);
  });

  it("saves and restores caches, uploads artifacts by `when`, returns dotenv variables", async () => {
    const cache = {
      key: "deps-v1",
      untracked: false,
      policy: "pull-push" as const,
      paths: ["deps/"],
      when: "on_success" as const,
    };
    const artifact = (
      paths: string[],
      when: "on_success" | "on_failure" | "always",
      type = "archive",
    ) => ({
      untracked: false,
      paths,
      when,
      artifact_type: type,
      artifact_format: type === "dotenv" ? ("gzip" as const) : ("zip" as const),
    });
    const first = jobSpec({
      script: [
        "mkdir -p deps out",
        "echo cached > deps/lib.txt",
        "echo result > out/r.txt",
        "echo VERSION=1.2.3 > build.env",
      ],
    });
    first.cache = [cache];
    first.artifacts = [
      artifact(["out/"], "on_success"),
      artifact(["build.env"], "on_success", "dotenv"),
      artifact(["deps/"], "on_failure"),
    ];
    const { result, log } = await runJob(first, { logName: "first.log" });
    expect(result.status, plain(log)).toBe("success");
    expect(result.dotenv).toEqual({ VERSION: "1.2.3" });
    expect(plain(log)).toMatch(/section_start:\d+:archive_cacheSaving cache for successful job/);
    expect(plain(log)).toMatch(
      /section_start:\d+:upload_artifacts_on_successUploading artifacts for successful job/,
    );
    const artifactsDir = join(root, "run", "artifacts", "1");
    expect(readdirSync(artifactsDir).sort()).toContain("archive.zip");
    // Only the on_success entries were archived.
    const uploads = plain(log).slice(plain(log).indexOf(":upload_artifacts_on_success"));
    expect(uploads).toContain("out: found 2 matching artifact files and directories");
    expect(uploads).not.toContain("deps: found");

    const second = jobSpec({ script: ["cat deps/lib.txt"] });
    second.id = 2;
    second.cache = [cache];
    const restored = await runJob(second, { logName: "second.log" });
    expect(restored.result.status, plain(restored.log)).toBe("success");
    expect(plain(restored.log)).toContain("Successfully extracted cache");
    expect(restored.log).toMatch(/^cached$/m);
  });

  it("checks out the repository with its uncommitted changes, never touching the working tree", async () => {
    const repo = join(root, "repo");
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" }).trim();
    execFileSync("git", ["init", "-q", "-b", "main", repo]);
    git("config", "user.email", "t@example.com");
    git("config", "user.name", "t");
    writeFileSync(join(repo, "file.txt"), "committed\n");
    git("add", "file.txt");
    git("commit", "-qm", "init");
    writeFileSync(join(repo, "file.txt"), "changed in working tree\n");
    const statusBefore = git("status", "--porcelain");

    const { result, log } = await runJob(
      jobSpec({
        script: ["cat file.txt", "echo built > output.txt", "git log --oneline | wc -l"],
        sha: git("rev-parse", "HEAD"),
        variables: [],
      }),
      { projectDir: repo },
    );
    expect(result.status).toBe("success");
    expect(log).toContain("changed in working tree\n");
    expect(git("status", "--porcelain")).toBe(statusBefore);
    expect(existsSync(join(repo, "output.txt"))).toBe(false);
  });
});
