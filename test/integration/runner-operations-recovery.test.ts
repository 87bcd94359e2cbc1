import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EXECUTORS } from "../../src/runner/executor-registry.ts";
import { GitLabClient } from "../../src/runner/gitlab-client.ts";
import { recoverLostJobs } from "../../src/runner/journal-recovery.ts";
import { JobJournal, type JournalEntry } from "../../src/runner/journal.ts";
import { patchTrace, requestJob } from "../../src/runner/runner-api.ts";
import { runnerInfo } from "../../src/runner/runner-info.ts";
import type { RunnerLog } from "../../src/runner/runner-log.ts";
import { currentProcess } from "../../src/storage/process-identity.ts";
import { FakeGitLab, type FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import { makeRepository } from "../support/pier-cli.ts";

const quiet: RunnerLog = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const SYSTEM_ID = "s_0123456789ab";

let fake: FakeGitLab;
let stateDir: string;
let repo: string;
let token: string;
let client: GitLabClient;

beforeEach(async () => {
  fake = await FakeGitLab.start();
  repo = makeRepository({ "a.txt": "a\n" });
  fake.addProject("group/recover", repo);
  token = fake.createRunner();
  client = new GitLabClient({ url: fake.url, baseDelayMs: 10, maxDelayMs: 50 });
  stateDir = mkdtempSync(join(tmpdir(), "pier-recovery-"));
});

afterEach(async () => {
  await fake.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
});

/** A process that has exited: its pid names no live process. */
function deadProcess(): { pid: number; start: string } {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return { pid: Number(child.stdout.toString()), start: "1" };
}

/** Hands the queued job to "a runner", as a pier that later died would have taken it. */
async function assigned(job: FakeJob): Promise<void> {
  const result = await requestJob(client, {
    token,
    systemId: SYSTEM_ID,
    info: runnerInfo("shell", EXECUTORS["shell"]!.features),
  });
  expect(result.kind).toBe("job");
  expect(job.state).toBe("running");
}

function journalEntry(job: FakeJob, log: Buffer, extra: Partial<JournalEntry> = {}): JournalEntry {
  const logFile = join(stateDir, "runner", "abc", "jobs", `${job.id}.log`);
  mkdirSync(join(logFile, ".."), { recursive: true });
  writeFileSync(logFile, log);
  return {
    jobId: job.id,
    jobToken: job.token,
    url: fake.url,
    runner: "abc",
    systemId: SYSTEM_ID,
    owner: deadProcess(),
    logFile,
    outputLimitBytes: 4 * 1024 * 1024,
    startedAt: new Date().toISOString(),
    ...extra,
  };
}

const journalDir = (): string => join(stateDir, "runner", "journal");

describe("recovering jobs from the crash journal", () => {
  it("sends only the part of the saved log GitLab lacks, then fails the job as a system failure", async () => {
    const job = fake.queueJob({ script: ["true"] });
    await assigned(job);
    const saved = Buffer.from("line one\nline two\nline three\n");
    // GitLab got the first line before the pier died.
    await patchTrace(client, {
      jobId: job.id,
      jobToken: job.token,
      offset: 0,
      bytes: saved.subarray(0, 9),
    });
    new JobJournal(stateDir).record(journalEntry(job, saved));

    const recovered = await recoverLostJobs({ stateDir, log: quiet, client: { baseDelayMs: 10 } });
    expect(recovered).toMatchObject([{ jobId: job.id, reported: "failed" }]);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "failed", failure_reason: "runner_system_failure" });
    expect(job.trace.subarray(0, saved.length).equals(saved)).toBe(true);
    expect(job.trace.toString()).toContain("ERROR: Job failed (system failure)");
    expect(job.final?.checksum).toBe(`crc32:${crc32(job.trace).toString(16).padStart(8, "0")}`);
    const patches = fake.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => r.status)).toEqual([202, 416, 202]);
    expect(readdirSync(journalDir())).toEqual([]);
  });

  it("sends the outcome a dead pier knew but could not report", async () => {
    const job = fake.queueJob({ script: ["true"] });
    await assigned(job);
    const entry = journalEntry(job, Buffer.from("all done\n"), {
      final: { state: "success" },
    });
    new JobJournal(stateDir).record(entry);
    const recovered = await recoverLostJobs({ stateDir, log: quiet });
    expect(recovered).toMatchObject([{ jobId: job.id, reported: "success" }]);
    expect(job.final?.state).toBe("success");
    expect(job.trace.toString()).toBe("all done\n");
    expect(fake.violations).toEqual([]);
  });

  it("leaves the entries of a live pier alone", async () => {
    const job = fake.queueJob({ script: ["true"] });
    await assigned(job);
    new JobJournal(stateDir).record(
      journalEntry(job, Buffer.from("x\n"), { owner: currentProcess() }),
    );
    expect(await recoverLostJobs({ stateDir, log: quiet })).toEqual([]);
    expect(job.final).toBeUndefined();
    expect(readdirSync(journalDir())).toHaveLength(1);
  });

  it("keeps the entry for the next start when GitLab cannot be reached", async () => {
    const job = fake.queueJob({ script: ["true"] });
    await assigned(job);
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const entry = journalEntry(job, Buffer.from("x\n"), { url: `http://127.0.0.1:${closedPort}/` });
    new JobJournal(stateDir).record(entry);
    const recovered = await recoverLostJobs({
      stateDir,
      log: quiet,
      client: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    });
    expect(recovered).toMatchObject([{ jobId: job.id, reported: "unreported" }]);
    expect(readdirSync(journalDir())).toEqual([JobJournal.fileName(entry)]);
    expect(new JobJournal(stateDir).list()[0]?.entry.owner).toEqual(entry.owner);
  }, 120_000);

  it("lets one process claim an entry: a second claim of the same file fails", () => {
    const journal = new JobJournal(stateDir);
    const entry: JournalEntry = {
      jobId: 7,
      jobToken: "glcbt-x",
      url: fake.url,
      runner: "abc",
      systemId: SYSTEM_ID,
      owner: deadProcess(),
      logFile: join(stateDir, "missing.log"),
      outputLimitBytes: 1024,
      startedAt: new Date().toISOString(),
    };
    journal.record(entry);
    const [stored] = journal.list();
    const claimed = journal.claim(stored!, currentProcess());
    expect(claimed?.claimedBy).toEqual(currentProcess());
    expect(journal.claim(stored!, { pid: 1, start: "1" })).toBeUndefined();
    expect(journal.list()).toMatchObject([{ entry: { jobId: 7 }, claimedBy: currentProcess() }]);
    journal.drop(claimed!);
    expect(journal.list()).toEqual([]);
  });
});
