import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { RunnerConfig } from "../../src/runner/config-toml.ts";
import { EXECUTORS } from "../../src/runner/executor-registry.ts";
import { GitLabClient } from "../../src/runner/gitlab-client.ts";
import { requestJob } from "../../src/runner/runner-api.ts";
import { runnerInfo } from "../../src/runner/runner-info.ts";
import { RunnerService } from "../../src/runner/runner-service.ts";
import { TraceUploader } from "../../src/runner/trace-uploader.ts";
import { FakeGitLab, type RecordedRequest } from "../support/fake-gitlab/fake-gitlab.ts";
import { makeRepository } from "../support/pier-cli.ts";
import { quietRunnerLog } from "../support/runner-fixture.ts";

const SYSTEM_ID = "s_0123456789ab";

let fake: FakeGitLab;
let repo: string;
let stateDir: string;
let token: string;
const services: RunnerService[] = [];

beforeEach(async () => {
  fake = await FakeGitLab.start();
  repo = makeRepository({ "hello.txt": "hello\n" });
  fake.addProject("group/project", repo);
  token = fake.createRunner();
  stateDir = mkdtempSync(join(tmpdir(), "pier-runner-prompt-"));
});

afterEach(async () => {
  for (const service of services.splice(0)) await service.stopForcefully(30_000);
  await fake.close();
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
});

/** A service with config.toml's own check_interval (no test override), in seconds. */
function startService(checkIntervalSeconds: number): void {
  const config: RunnerConfig = {
    global: { concurrent: 1, checkInterval: checkIntervalSeconds },
    runners: [{ name: "prompt", url: fake.url, token, executor: "shell", extra: {} }],
    extra: {},
  };
  const service = new RunnerService({
    config,
    configFile: join(stateDir, "config.toml"),
    systemId: SYSTEM_ID,
    stateDir,
    log: quietRunnerLog,
    traceUpdateIntervalMs: 200,
  });
  services.push(service);
  void service.start();
}

const jobRequests = (): RecordedRequest[] =>
  fake.requests.filter((r) => r.path === "/api/v4/jobs/request");

const echoed = (request: RecordedRequest): unknown =>
  (JSON.parse(request.body.toString()) as { last_update?: string }).last_update;

describe("runner mode picks up work without waiting for check_interval", () => {
  it("starts a job queued right after the previous one ended at once, not check_interval later", async () => {
    fake.longPollMs = 60_000;
    startService(30);
    await fake.waitFor(() => jobRequests().some((r) => r.held === true), 15_000);
    const first = fake.queueJob({ script: ["echo first"] });
    await fake.waitFor(() => first.final !== undefined, 60_000);
    // The request after the job is out of date (the queue moved): GitLab answers it at once,
    // and the runner asks again with the new version, which the stand-in holds.
    await fake.waitFor(
      () => jobRequests().some((r) => r.held === true && r.receivedAt >= first.finishedAt!),
      15_000,
    );
    const queuedAt = Date.now();
    const second = fake.queueJob({ script: ["echo second"] });
    await fake.waitFor(() => second.final !== undefined, 60_000);
    expect(second.final).toMatchObject({ state: "success" });
    // A 30 s check_interval sleep would have kept it queued.
    expect(second.assignedAt! - queuedAt).toBeLessThan(2000);
    expect(fake.violations).toEqual([]);
  }, 120_000);

  it("asks again at once only once in a row, then waits check_interval", async () => {
    // A server whose every answer carries a new queue version must not make the runner spin.
    for (const version of ["x1", "x2", "x3", "x4"]) {
      fake.inject({
        method: "POST",
        path: /\/jobs\/request$/,
        status: 204,
        headers: { "X-GitLab-Last-Update": version },
      });
    }
    startService(1);
    await fake.waitFor(() => jobRequests().length >= 5, 15_000);
    const [r1, r2, r3, r4, r5] = jobRequests();
    expect([r1, r2, r3, r4, r5].map((r) => echoed(r!))).toEqual([
      undefined,
      "x1",
      "x2",
      "x3",
      "x4",
    ]);
    // x1 is news: asked again at once; x2 is news too, but only after an immediate re-ask.
    expect(r2!.receivedAt - r1!.answeredAt!).toBeLessThan(500);
    expect(r3!.receivedAt - r2!.answeredAt!).toBeGreaterThanOrEqual(900);
    expect(r4!.receivedAt - r3!.answeredAt!).toBeLessThan(500);
    expect(r5!.receivedAt - r4!.answeredAt!).toBeGreaterThanOrEqual(900);
  }, 60_000);

  it("waits check_interval when a server without long polling answers the same version", async () => {
    fake.longPollMs = 0;
    startService(1);
    await fake.waitFor(() => jobRequests().length >= 4, 15_000);
    const [r1, r2, r3, r4] = jobRequests();
    // The first answer is news (nothing was echoed): asked again at once, then paced.
    expect(r2!.receivedAt - r1!.answeredAt!).toBeLessThan(500);
    expect(echoed(r3!)).toBe(echoed(r2!));
    expect(r3!.receivedAt - r2!.answeredAt!).toBeGreaterThanOrEqual(900);
    expect(r4!.receivedAt - r3!.answeredAt!).toBeGreaterThanOrEqual(900);
  }, 60_000);
});

describe("the trace uploader once the log reaches output_limit", () => {
  it("sends the cut log at once, even when the limit comes before a pending send went out", async () => {
    // Far beyond the test's wait (GitLab's answers set the interval): only the uploader's own
    // wake-ups can send in time.
    fake.traceUpdateInterval = 60;
    const queued = fake.queueJob({ script: ["true"] });
    const client = new GitLabClient({ url: fake.url });
    const answer = await requestJob(client, {
      token,
      systemId: SYSTEM_ID,
      info: runnerInfo("shell", EXECUTORS["shell"]?.features ?? {}),
    });
    if (answer.kind !== "job") throw new Error(`no job: ${answer.kind}`);
    const limit = 3 * 1024 * 1024;
    const uploader = new TraceUploader({
      client,
      jobId: answer.job.id,
      jobToken: answer.job.token,
      systemId: SYSTEM_ID,
      outputLimitBytes: limit,
      updateIntervalMs: 60_000,
      forceSendIntervalMs: 60_000,
      onJobStatus: () => undefined,
    });
    uploader.start();
    uploader.append(Buffer.from("first line\n"));
    await fake.waitFor(() => queued.trace.length > 0, 10_000);
    // Time to take the answer in and go back to waiting for the interval.
    await new Promise((resolve) => setTimeout(resolve, 300));
    // A full PATCH is waiting: the uploader is woken to send whole patches …
    uploader.append(Buffer.alloc(1536 * 1024, "a"));
    // … and the limit is reached before it got round to it: the tail must not wait.
    uploader.append(Buffer.alloc(2 * 1024 * 1024, "b"));
    try {
      await fake.waitFor(() => queued.trace.length === uploader.bytesize, 10_000);
      expect(uploader.bytesize).toBeGreaterThan(limit);
      expect(queued.trace.subarray(limit).toString()).toContain("Job's log exceeded limit");
      expect(fake.violations).toEqual([]);
    } finally {
      await uploader.finish();
    }
  }, 60_000);
});
