import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  parseRunnerConfig,
  type RunnerConfig,
  type RunnerEntry,
} from "../../src/runner/config-toml.ts";
import type { RunnerJobOutcome } from "../../src/runner/run-job.ts";
import type { RunnerService } from "../../src/runner/runner-service.ts";
import type { FakeGitLab, FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import {
  startRunnerFixture,
  type RunnerFixture,
  type ServiceHooks,
} from "../support/runner-fixture.ts";

let fixture: RunnerFixture;
let fake: FakeGitLab;
let token: string;
const finished = new Map<number, RunnerJobOutcome>();

beforeEach(async () => {
  fixture = await startRunnerFixture({ "hello.txt": "hello from the repository\n" });
  ({ fake, token } = fixture);
  finished.clear();
});

afterEach(async () => {
  await fixture.close();
});

function startService(
  global: RunnerConfig["global"] = {},
  entry: Partial<RunnerEntry> = {},
  hooks: ServiceHooks = {},
): RunnerService {
  return fixture.startService(fixture.shellConfig(entry, global), {
    ...hooks,
    onJobFinished: (job, outcome) => finished.set(job.id, outcome),
  });
}

async function finalOf(job: FakeJob): Promise<void> {
  await fake.waitFor(() => job.final !== undefined || finished.has(job.id));
}

describe("pier as a runner, against the GitLab stand-in", () => {
  it("clones over HTTP, runs a shell job and reports success with the trace's checksum", async () => {
    const job = fake.queueJob({
      script: ["cat hello.txt", 'echo "secret is $MY_SECRET"', 'echo "token is $CI_JOB_TOKEN"'],
      variables: [{ key: "MY_SECRET", value: "s3cr3t-value-42", masked: true }],
    });
    startService();
    await finalOf(job);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.state).toBe("success");
    const trace = job.trace.toString("utf8");
    expect(trace).toContain("hello from the repository");
    expect(trace).toContain("secret is [MASKED]");
    expect(trace).toContain("token is [MASKED]");
    expect(trace).not.toContain("s3cr3t-value-42");
    expect(trace).not.toContain(job.token);
    expect(trace).toContain("Job succeeded");
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
    // The runner echoed the long-polling cursor and sent its token on every request.
    const requests = fake.requests.filter((r) => r.path === "/api/v4/jobs/request");
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.every((r) => r.headers["runner-token"] === token)).toBe(true);
  });

  it("reports a failing script as failed, script_failure, with its exit code", async () => {
    const job = fake.queueJob({ script: ["echo about to fail", "exit 3"] });
    startService();
    await finalOf(job);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 3,
    });
    expect(job.trace.toString()).toContain("ERROR: Job failed: exit code 3");
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
  });

  it("cancels a running job when GitLab says canceling, running after_script", async () => {
    const job = fake.queueJob({
      script: ["echo started", "for i in $(seq 1 600); do echo tick $i; sleep 0.1; done"],
      afterScript: ["echo after-script-ran"],
    });
    startService();
    await fake.waitFor(() => job.trace.toString().includes("tick 3"));
    const canceledAt = Date.now();
    fake.cancelJob(job.id, "canceling");
    await finalOf(job);
    expect(Date.now() - canceledAt).toBeLessThan(15_000);
    expect(fake.violations).toEqual([]);
    expect(job.state).toBe("canceled");
    expect(job.final?.state).toBe("failed");
    expect(job.trace.toString()).toContain("after-script-ran");
    expect(job.trace.toString()).not.toContain("tick 600");
  });

  it("aborts a job GitLab canceled outright and sends no final state", async () => {
    const job = fake.queueJob({
      script: ["for i in $(seq 1 600); do echo tick $i; sleep 0.1; done"],
      afterScript: ["echo after-script-ran"],
    });
    startService();
    await fake.waitFor(() => job.trace.toString().includes("tick 3"));
    fake.cancelJob(job.id, "canceled");
    await fake.waitFor(() => finished.has(job.id), 15_000);
    expect(finished.get(job.id)?.reported).toBe("aborted");
    expect(job.final).toBeUndefined();
    expect(fixture.localLog(job).toString()).not.toContain("after-script-ran");
  });

  it("never runs more than `concurrent` jobs at once", async () => {
    const jobs = Array.from({ length: 5 }, (_, i) =>
      fake.queueJob({ name: `job ${i}`, script: ["sleep 1", `echo done ${i}`] }),
    );
    startService({ concurrent: 2 });
    await fake.waitFor(() => jobs.every((job) => job.final !== undefined));
    expect(fake.violations).toEqual([]);
    expect(fake.maxRunning).toBe(2);
    expect(jobs.map((job) => job.final?.state)).toEqual(Array(5).fill("success"));
  });

  it("runs the seed's config.toml (concurrent = 4) four jobs at once, never a fifth", async () => {
    const { config } = parseRunnerConfig(`concurrent = 4
check_interval = 0
[[runners]]
  name = "GitLab Runner"
  url = "${fake.url}"
  token = "${token}"
  executor = "shell"
  [runners.cache]
    [runners.cache.s3]
  [runners.docker]
    image = "docker:19.03"
    privileged = true
    volumes = ["/cache", "/certs/client"]
`);
    const jobs = Array.from({ length: 7 }, (_, i) =>
      fake.queueJob({ name: `job ${i}`, script: ["sleep 1"] }),
    );
    startService(config.global, config.runners[0]);
    await fake.waitFor(() => jobs.every((job) => job.final !== undefined));
    expect(fake.violations).toEqual([]);
    expect(fake.maxRunning).toBe(4);
  });

  it("waits as long as a 429's Retry-After asks", async () => {
    fake.inject({
      method: "POST",
      path: /\/jobs\/request$/,
      status: 429,
      headers: { "Retry-After": "1" },
    });
    const job = fake.queueJob({ script: ["echo hi"] });
    startService();
    await finalOf(job);
    const requests = fake.requests.filter((r) => r.path === "/api/v4/jobs/request");
    expect(requests[0]?.status).toBe(429);
    expect(requests[1]?.status).toBe(201);
    expect(requests[1]!.receivedAt - requests[0]!.receivedAt).toBeGreaterThanOrEqual(950);
  });

  it("ends every job with its full trace and final state when every fifth request fails", async () => {
    fake.failEveryNth = 5;
    fake.finalAcceptsPendingPerJob = 2;
    const jobs = Array.from({ length: 4 }, (_, i) =>
      fake.queueJob({
        name: `noisy ${i}`,
        script: [`for n in $(seq 1 3000); do echo "job ${i} line $n"; done`, "sleep 0.5"],
      }),
    );
    startService({ concurrent: 2 });
    await fake.waitFor(() => jobs.every((job) => job.final !== undefined), 90_000);
    expect(fake.violations).toEqual([]);
    expect(fake.requests.filter((r) => r.status === 500).length).toBeGreaterThan(3);
    for (const job of jobs) {
      expect(job.final?.state).toBe("success");
      expect(job.trace.equals(fixture.localLog(job))).toBe(true);
      expect(job.trace.toString()).toContain(`line 3000`);
    }
  });

  it("resends from the server's Range after a 416 (the server lost a chunk it had accepted)", async () => {
    fake.inject({
      method: "PATCH",
      path: /\/trace$/,
      status: 202,
      headers: { Range: "0-0", "Job-Status": "running", "X-GitLab-Trace-Update-Interval": "0.2" },
    });
    const job = fake.queueJob({
      script: ["echo one", "sleep 0.6", "echo two", "sleep 0.6", "echo three"],
    });
    startService();
    await finalOf(job);
    expect(fake.violations).toEqual([]);
    expect(fake.requests.some((r) => r.status === 416)).toBe(true);
    expect(job.final?.state).toBe("success");
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
  });

  it("sends the whole trace again when the final update answers 412", async () => {
    fake.inject({ method: "PUT", path: /\/jobs\/\d+$/, status: 412 });
    const job = fake.queueJob({ script: ["echo hello"] });
    startService();
    await finalOf(job);
    expect(fake.violations).toEqual([]);
    const puts = fake.requests.filter((r) => r.method === "PUT");
    expect(puts.map((r) => r.status)).toEqual([412, 200]);
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
  });

  it("learns about a cancel through the keep-alive update while the job prints nothing", async () => {
    const job = fake.queueJob({
      script: ["echo start", "sleep 60"],
      afterScript: ["echo cleanup"],
    });
    startService({}, {}, { forceSendIntervalMs: 500 });
    // The script's own line, not the section_start markers: after it only keep-alives are due.
    await fake.waitFor(() => /^start\r?$/m.test(job.trace.toString()));
    fake.cancelJob(job.id, "canceling");
    await finalOf(job);
    expect(job.state).toBe("canceled");
    expect(job.trace.toString()).toContain("cleanup");
    expect(fake.requests.some((r) => r.method === "PUT" && r.body.includes('"running"'))).toBe(
      true,
    );
  });

  it("cuts the trace at output_limit and lets the job go on", async () => {
    const job = fake.queueJob({
      script: ["for n in $(seq 1 5000); do echo line $n; done", "echo still running"],
    });
    startService({}, { outputLimit: 4 });
    await finalOf(job);
    expect(fake.violations).toEqual([]);
    expect(job.final?.state).toBe("success");
    expect(job.trace.length).toBeLessThan(4 * 1024 + 200);
    expect(job.trace.toString()).toContain("Job's log exceeded limit of 4096 bytes.");
    expect(fixture.localLog(job).toString()).toContain("still running");
  });
});
