import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import type { JobSpec } from "../../src/job/spec.ts";
import { localArtifactTransport } from "../../src/storage/artifacts.ts";
import { leaseSlots, locksRoot } from "../../src/storage/concurrency-slots.ts";
import { removalsSettled } from "../../src/storage/remove-aside.ts";
import { discardSpareCheckouts } from "../../src/storage/spare-checkouts.ts";
import { TraceWriter } from "../../src/trace/trace-writer.ts";
import { git } from "../support/git.ts";
import { executorJobSpec, jobVariable } from "./executor-job-spec.ts";

let root: string;
let repo: string;
let head: string;
let logs = 0;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-kept-builds-"));
  repo = join(root, "repo");
  mkdirSync(repo);
  git(repo, "init", "-q", "-b", "main");
  writeFileSync(join(repo, "file.txt"), "committed\n");
  git(repo, "add", "file.txt");
  git(repo, "commit", "-qm", "init");
  head = git(repo, "rev-parse", "HEAD");
});

afterEach(async () => {
  await discardSpareCheckouts();
  await removalsSettled();
  rmSync(root, { recursive: true, force: true });
});

/** What each job prints about where it runs, one `key=value` per line. */
const report = [
  'echo "dir=$CI_PROJECT_DIR slot=$CI_CONCURRENT_ID"',
  'echo "ino=$(stat -c %i file.txt) content=$(cat file.txt)"',
  'echo "home=$(ls -A "$HOME" | wc -l) tmp=$(ls -A "$TMPDIR" | wc -l) status=$(GIT_OPTIONAL_LOCKS=0 git status --porcelain | wc -l)"',
];

function spec(script: string[], variables: JobSpec["variables"] = []): JobSpec {
  return executorJobSpec({ script: [...report, ...script], sha: head, variables });
}

async function runJobs(
  executor: ShellExecutor,
  specs: JobSpec[],
): Promise<Array<Record<string, string>>> {
  const seen: Array<Record<string, string>> = [];
  for (const job of specs) {
    const logFile = join(root, "logs", `${String(logs++)}.log`);
    const trace = new TraceWriter({ logFile });
    try {
      const result = await executor.run(job, {
        trace,
        signal: new AbortController().signal,
        projectDir: repo,
        stateDir: join(root, "state"),
        artifacts: localArtifactTransport({ runDir: join(root, "run") }),
        cacheDir: join(root, "cache"),
      });
      expect(result.status).toBe("success");
    } finally {
      await trace.close();
    }
    const log = readFileSync(logFile, "utf8");
    const values: Record<string, string> = {};
    for (const [, key = "", value = ""] of log.matchAll(/(\w+)=(\S*)/g)) values[key] = value;
    seen.push(values);
  }
  return seen;
}

describe("shell executor: build folders kept between the jobs of one run", () => {
  it("gives the next job the same checkout only while it is exactly as checked out", async () => {
    const executor = new ShellExecutor({ killGraceMs: 1000, expectedJobs: 6 });
    const [first, second, afterEdit, fourth, afterSameSize, withFileVariable] = await runJobs(
      executor,
      [
        spec([]),
        spec(['touch "$HOME/.history" "$TMPDIR/scratch"', "echo edited > file.txt"]),
        spec([]),
        // Same size, same moment as the checkout's timestamps can tell: only the bytes differ.
        spec(["printf 'COMMITTED\\n' > file.txt"]),
        spec([]),
        spec([], [jobVariable("CONFIG", "secret", { file: true })]),
      ],
    );
    // Nothing changed: the same folder and files, no new checkout.
    expect(second?.["dir"]).toBe(first?.["dir"]);
    expect(second?.["slot"]).toBe(first?.["slot"]);
    expect(second?.["ino"]).toBe(first?.["ino"]);
    // Edited by the job before: a fresh checkout, an empty HOME and TMPDIR.
    expect(afterEdit?.["dir"]).toBe(first?.["dir"]);
    expect(afterEdit?.["ino"]).not.toBe(second?.["ino"]);
    expect(fourth?.["ino"]).toBe(afterEdit?.["ino"]);
    for (const job of [first, second, afterEdit, fourth, afterSameSize, withFileVariable]) {
      expect(job?.["content"]).toBe("committed");
      expect(job?.["home"]).toBe("0");
      expect(job?.["tmp"]).toBe("0");
      expect(job?.["status"]).toBe("0");
    }
    expect(afterSameSize?.["ino"]).not.toBe(fourth?.["ino"]);

    // The slot stays leased between jobs: another lease gets the next one.
    const other = await leaseSlots({ stateDir: join(root, "state"), projectKey: "x" });
    expect(other.concurrentId).toBe(Number(first?.["slot"]) + 1);
    await other.release();

    // The end of the run removes the kept folders and gives the slot back.
    await discardSpareCheckouts();
    await removalsSettled();
    expect(existsSync(first?.["dir"] ?? "")).toBe(false);
    const locks = readdirSync(join(locksRoot(join(root, "state")), "concurrent"));
    expect(locks).toEqual([]);
  });

  it("does not hand a job the previous job's file variables or folder when it asks for none", async () => {
    const executor = new ShellExecutor({ killGraceMs: 1000, expectedJobs: 2 });
    const [withFile] = await runJobs(executor, [
      spec(['echo "file=$CONFIG"'], [jobVariable("CONFIG", "secret", { file: true })]),
    ]);
    // File variables go at the job's cleanup, even while its folders are kept.
    expect(existsSync(withFile?.["file"] ?? "")).toBe(false);
    const [none] = await runJobs(executor, [
      executorJobSpec({
        script: ['echo "entries=$(ls -A | wc -l) tmp=$(ls -A "$(dirname "$HOME")" | wc -l)"'],
        sha: head,
        variables: [jobVariable("GIT_STRATEGY", "none")],
      }),
    ]);
    expect(withFile?.["file"]).toMatch(/CONFIG$/);
    // GIT_STRATEGY none gets an empty folder; the tmp folder holds HOME, TMPDIR, the script.
    expect(none?.["entries"]).toBe("0");
    expect(none?.["tmp"]).toBe("3");
  });

  it("never lets a job inherit a checkout a killed pier left in its slot", async () => {
    const [first] = await runJobs(new ShellExecutor({ killGraceMs: 1000, expectedJobs: 1 }), [
      spec([]),
    ]);
    await removalsSettled();
    const dir = first?.["dir"] ?? "";
    // What a pier killed while it kept a build leaves: a checkout with something in its .git.
    git(root, "clone", "-q", repo, dir);
    writeFileSync(join(dir, ".git", "planted"), "from an earlier pier\n");
    writeFileSync(join(dir, ".git", "hooks", "post-checkout"), "#!/bin/sh\necho hooked\n", {
      mode: 0o755,
    });
    const [next] = await runJobs(new ShellExecutor({ killGraceMs: 1000, expectedJobs: 1 }), [
      // Local runs fetch by default, which reuses a folder's .git when it is a repository.
      spec(
        ['echo "planted=$(ls .git/planted .git/hooks/post-checkout 2>/dev/null | wc -l)"'],
        [jobVariable("GIT_STRATEGY", "fetch")],
      ),
    ]);
    expect(next?.["dir"]).toBe(dir);
    expect(next?.["planted"]).toBe("0");
  });

  it("does not hand the next job a HOME the previous one swapped for a link elsewhere", async () => {
    const elsewhere = join(root, "elsewhere");
    mkdirSync(elsewhere);
    const executor = new ShellExecutor({ killGraceMs: 1000, expectedJobs: 2 });
    await runJobs(executor, [spec([`rmdir "$HOME" && ln -s ${elsewhere} "$HOME"`])]);
    const [next] = await runJobs(executor, [
      spec(['echo "linked=$(test -L "$HOME" && echo yes || echo no)"', 'touch "$HOME/.history"']),
    ]);
    expect(next?.["linked"]).toBe("no");
    expect(readdirSync(elsewhere)).toEqual([]);
  });
});
