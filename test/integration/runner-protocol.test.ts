import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import type { RunnerConfig, RunnerEntry } from "../../src/runner/config-toml.ts";
import { EXECUTORS } from "../../src/runner/executor-registry.ts";
import { GitLabClient } from "../../src/runner/gitlab-client.ts";
import { runRunnerJob } from "../../src/runner/run-job.ts";
import { requestJob } from "../../src/runner/runner-api.ts";
import { runnerInfo } from "../../src/runner/runner-info.ts";
import type { FakeGitLab, RecordedRequest } from "../support/fake-gitlab/fake-gitlab.ts";
import { git } from "../support/git.ts";
import { makeRepository } from "../support/pier-cli.ts";
import { startRunnerFixture, type RunnerFixture } from "../support/runner-fixture.ts";

let fixture: RunnerFixture;
let fake: FakeGitLab;

beforeEach(async () => {
  fixture = await startRunnerFixture({ "hello.txt": "hello\n" });
  fake = fixture.fake;
});

afterEach(async () => {
  await fixture.close();
});

function config(global: RunnerConfig["global"], entry: Partial<RunnerEntry> = {}): RunnerConfig {
  return fixture.shellConfig({ name: "protocol", ...entry }, global);
}

const jobRequests = (): RecordedRequest[] =>
  fake.requests.filter((r) => r.path === "/api/v4/jobs/request");

/** Most requests of these that were open at the same moment. */
function mostAtOnce(requests: RecordedRequest[]): number {
  const edges = requests.flatMap((r) => [
    [r.receivedAt, 1],
    [r.answeredAt ?? Number.MAX_SAFE_INTEGER, -1],
  ]);
  // Ends before starts at the same millisecond: back-to-back requests do not overlap.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let most = 0;
  for (const [, step] of edges) {
    open += step!;
    most = Math.max(most, open);
  }
  return most;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("the runner's side of GitLab's job protocol", () => {
  it("echoes X-GitLab-Last-Update as last_update, so GitLab holds the request (long polling)", async () => {
    fixture.startService(config({ concurrent: 1 }));
    await fake.waitFor(() => jobRequests().some((r) => r.held === true), 15_000);
    const job = fake.queueJob({ script: ["echo after the long poll"] });
    await fake.waitFor(() => job.final !== undefined, 60_000);
    expect(job.final).toMatchObject({ state: "success" });
    const [first, second] = jobRequests();
    expect(JSON.parse(first!.body.toString())).not.toHaveProperty("last_update");
    // What pier does, and no more: GitLab hands out only jobs whose needs a runner lists.
    const asked = JSON.parse(first!.body.toString()) as { info: { features: object } };
    expect(asked.info.features).toMatchObject({
      artifacts: true,
      upload_multiple_artifacts: true,
      upload_raw_artifacts: true,
      artifacts_exclude: true,
      image: false,
      services: false,
      session: false,
      terminal: false,
    });
    // The stand-in's queue version the first 204 gave; it holds only a request that echoes it.
    expect(JSON.parse(second!.body.toString())).toHaveProperty("last_update", "v1");
    expect(second!.held).toBe(true);
    expect(fake.violations).toEqual([]);
  });

  it("backs off after 409 and 502 from jobs/request, then takes the job", async () => {
    fake.inject({ method: "POST", path: /\/jobs\/request$/, status: 409 });
    fake.inject({ method: "POST", path: /\/jobs\/request$/, status: 502 });
    const job = fake.queueJob({ script: ["echo taken"] });
    fixture.startService(config({ concurrent: 1 }));
    await fake.waitFor(() => job.final !== undefined, 60_000);
    expect(job.final).toMatchObject({ state: "success" });
    const [conflict, badGateway, taken] = jobRequests();
    expect([conflict?.status, badGateway?.status, taken?.status]).toEqual([409, 502, 201]);
    // Not the 100 ms check interval: exponential backoff from a second on.
    expect(badGateway!.receivedAt - conflict!.receivedAt).toBeGreaterThanOrEqual(900);
    expect(taken!.receivedAt - badGateway!.receivedAt).toBeGreaterThanOrEqual(900);
  });

  it("runs no more than the entry's limit at once under a larger concurrent", async () => {
    const jobs = Array.from({ length: 5 }, (_, i) =>
      fake.queueJob({ name: `limited ${String(i)}`, script: ["sleep 1"] }),
    );
    fixture.startService(config({ concurrent: 4 }, { limit: 2 }));
    await fake.waitFor(() => jobs.every((job) => job.final !== undefined), 90_000);
    expect(jobs.map((job) => job.final?.state)).toEqual(Array(5).fill("success"));
    expect(fake.maxRunning).toBe(2);
  });

  it("keeps request_concurrency job requests open at once while idle, never more", async () => {
    fixture.startService(config({ concurrent: 4 }, { requestConcurrency: 3 }));
    await sleep(2000);
    expect(mostAtOnce(jobRequests())).toBe(3);
  });

  it("asks with one request at a time by default", async () => {
    fixture.startService(config({ concurrent: 4 }));
    await sleep(1500);
    expect(jobRequests().length).toBeGreaterThan(1);
    expect(mostAtOnce(jobRequests())).toBe(1);
  });

  it("fetches git_info's refspecs at its depth, and nothing with GIT_STRATEGY=none", async () => {
    // Three commits and a tag, served as the project the next jobs belong to.
    const repo = makeRepository({ "hello.txt": "hello 1\n" });
    try {
      for (const n of [2, 3]) {
        writeFileSync(join(repo, "hello.txt"), `hello ${String(n)}\n`);
        git(repo, "commit", "-qam", `commit ${String(n)}`);
      }
      git(repo, "tag", "v3");
      fake.addProject("group/deep", repo);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
    const shallow = fake.queueJob({
      script: ["cat hello.txt", 'echo "commits: $(git rev-list --count HEAD)"', "git tag --list"],
    });
    shallow.payload.git_info.depth = 1;
    const none = fake.queueJob({
      script: ['if [ -e hello.txt ]; then echo "sources present"; else echo "no sources"; fi'],
      variables: [{ key: "GIT_STRATEGY", value: "none", public: true }],
    });
    fixture.startService(config({ concurrent: 1 }));
    await fake.waitFor(() => shallow.final !== undefined && none.final !== undefined, 90_000);
    expect(shallow.final).toMatchObject({ state: "success" });
    const shallowLog = shallow.trace.toString();
    expect(shallowLog).toContain("hello 3");
    expect(shallowLog).toContain("commits: 1");
    expect(shallowLog).toMatch(/^v3$/m);
    expect(none.final).toMatchObject({ state: "success" });
    expect(none.trace.toString()).toContain("no sources");
  });

  it("sends the log at the update interval GitLab asks for, not its own default", async () => {
    fake.traceUpdateInterval = 0.5;
    const job = fake.queueJob({
      script: ["for n in $(seq 1 24); do echo tick $n; sleep 0.25; done"],
    });
    const client = new GitLabClient({ url: fake.url });
    const answer = await requestJob(client, {
      token: fixture.token,
      systemId: "s_0123456789ab",
      info: runnerInfo("shell", EXECUTORS["shell"]?.features ?? {}),
    });
    if (answer.kind !== "job") throw new Error(`no job: ${answer.kind}`);
    // No traceUpdateIntervalMs: pier's own default (3 s) until GitLab's first answer.
    const outcome = await runRunnerJob({
      client,
      entry: config({}).runners[0]!,
      systemId: "s_0123456789ab",
      job: answer.job,
      executor: new ShellExecutor({ runnerName: "protocol" }),
      stateDir: fixture.stateDir,
      logFile: join(fixture.stateDir, "interval.log"),
      shutdown: new AbortController().signal,
    });
    client.close();
    expect(outcome.reported).toBe("success");
    const patches = fake.requests.filter((r) => r.method === "PATCH").map((r) => r.receivedAt);
    const gaps = patches.slice(1).map((at, i) => at - patches[i]!);
    // A 6 s job: one patch at 3 s, then every half second as asked (3 s apart would make 2).
    expect(patches.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...gaps.slice(0, -1))).toBeLessThan(1500);
    expect(job.trace.toString()).toContain("tick 24");
  });

  it("ends the job with its whole log when connections drop before and after GitLab acts", async () => {
    fake.inject({ method: "POST", path: /\/jobs\/request$/, status: 0, drop: "unseen" });
    fake.inject({ method: "PATCH", path: /\/trace$/, status: 0, drop: "handled" });
    fake.inject({ method: "PUT", path: /\/jobs\/\d+$/, status: 0, drop: "unseen" });
    const job = fake.queueJob({
      script: ["for n in $(seq 1 500); do echo line $n; done", "sleep 0.5", "echo last line"],
    });
    fixture.startService(config({ concurrent: 1 }));
    await fake.waitFor(() => job.final !== undefined, 60_000);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
    expect(job.trace.toString()).toContain("last line");
    expect(fake.violations).toEqual([]);
    const dropped = fake.requests.filter((r) => r.dropped === true);
    expect(dropped.map((r) => `${r.method} ${String(r.status)}`)).toEqual([
      "POST 0",
      "PATCH 202",
      "PUT 0",
    ]);
    // The PATCH GitLab took but the runner never heard of was sent again: answered 416, resynced.
    expect(fake.requests.some((r) => r.method === "PATCH" && r.status === 416)).toBe(true);
  });
});
