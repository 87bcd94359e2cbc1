import { describe, expect, it } from "vitest";
import {
  schedulePipeline,
  type AttemptResult,
  type SchedulableJob,
} from "../../../src/local/scheduler.ts";

interface FakeJob extends SchedulableJob {
  /** Milliseconds the fake job runs. */
  ms?: number;
  /** Exit codes of successive attempts; 0 succeeds. */
  exits?: number[];
}

function job(name: string, stageIndex: number, extra: Partial<FakeJob> = {}): FakeJob {
  return {
    name,
    stageIndex,
    when: "on_success",
    allowFailure: false,
    retry: { max: 0, when: [], exitCodes: [] },
    ...extra,
  };
}

/** Runs jobs with a fake executor and records start and end times and overlaps. */
async function run(
  jobs: FakeJob[],
  options: { concurrency?: number; play?: string[]; cancel?: AbortSignal } = {},
) {
  const log: string[] = [];
  const active = new Set<string>();
  let maxActive = 0;
  const overlaps: string[][] = [];
  const result = await schedulePipeline({
    jobs,
    concurrency: options.concurrency ?? 10,
    play: new Set(options.play ?? []),
    ...(options.cancel ? { cancel: options.cancel } : {}),
    runAttempt: async (j, attempt, signal): Promise<AttemptResult> => {
      log.push(`start ${j.name}`);
      active.add(j.name);
      overlaps.push([...active]);
      maxActive = Math.max(maxActive, active.size);
      const canceled = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), j.ms ?? 5);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      active.delete(j.name);
      log.push(`end ${j.name}`);
      if (canceled) return { status: "canceled" };
      const exit = j.exits?.[attempt - 1] ?? j.exits?.at(-1) ?? 0;
      return exit === 0
        ? { status: "success", exitCode: 0 }
        : { status: "failed", exitCode: exit, failureReason: "script_failure" };
    },
  });
  const status = (name: string) => result.jobs.get(name)?.status;
  return { result, log, maxActive, overlaps, status };
}

describe("schedulePipeline", () => {
  it("runs a later stage only after the earlier stage is done", async () => {
    const { log, result } = await run([job("a", 0, { ms: 30 }), job("b", 1)]);
    expect(log).toEqual(["start a", "end a", "start b", "end b"]);
    expect(result.status).toBe("success");
  });

  it("starts a job the moment its needs are done, before an unrelated slow job ends", async () => {
    const { log } = await run([
      job("fast", 0, { ms: 5 }),
      job("slow", 0, { ms: 150 }),
      job("after-fast", 1, { needs: [{ job: "fast" }] }),
    ]);
    expect(log.indexOf("start after-fast")).toBeLessThan(log.indexOf("end slow"));
  });

  it("starts jobs with needs: [] at once, even in a late stage", async () => {
    const { log } = await run([job("a", 0, { ms: 50 }), job("free", 2, { needs: [] })]);
    expect(log.indexOf("start free")).toBeLessThan(log.indexOf("end a"));
  });

  it("skips on_success jobs after a failure and runs on_failure and always jobs", async () => {
    const { status, result } = await run([
      job("broken", 0, { exits: [1] }),
      job("next", 1),
      job("cleanup", 1, { when: "on_failure" }),
      job("report", 2, { when: "always" }),
    ]);
    expect(status("broken")).toBe("failed");
    expect(status("next")).toBe("skipped");
    expect(status("cleanup")).toBe("success");
    expect(status("report")).toBe("success");
    expect(result.status).toBe("failed");
  });

  it("counts an allowed failure as success with a warning", async () => {
    const { status, result } = await run([
      job("flaky", 0, { exits: [3], allowFailure: true }),
      job("next", 1),
      job("on-fail", 1, { when: "on_failure" }),
    ]);
    expect(status("next")).toBe("success");
    expect(status("on-fail")).toBe("skipped");
    expect(result.jobs.get("flaky")?.allowedFailure).toBe(true);
    expect(result.status).toBe("success");
  });

  it("allows only the listed exit codes to fail", async () => {
    const { result } = await run([
      job("ok", 0, { exits: [42], allowFailure: { exitCodes: [42] } }),
      job("bad", 0, { exits: [1], allowFailure: { exitCodes: [42] } }),
    ]);
    expect(result.jobs.get("ok")?.allowedFailure).toBe(true);
    expect(result.jobs.get("bad")?.allowedFailure).toBe(false);
    expect(result.status).toBe("failed");
  });

  it("skips a job whose need was skipped, unless it runs always", async () => {
    const { status } = await run([
      job("broken", 0, { exits: [1] }),
      job("build", 1),
      job("test", 2, { needs: [{ job: "build" }] }),
      job("notify", 2, { needs: [{ job: "build" }], when: "always" }),
    ]);
    expect(status("build")).toBe("skipped");
    expect(status("test")).toBe("skipped");
    expect(status("notify")).toBe("success");
  });

  it("holds later stages behind a blocking manual job, and not behind an optional one", async () => {
    const blocking = await run([
      job("deploy", 0, { when: "manual", allowFailure: false }),
      job("after", 1),
    ]);
    expect(blocking.status("deploy")).toBe("manual");
    expect(blocking.status("after")).toBe("created");
    expect(blocking.result.status).toBe("manual");

    const optional = await run([
      job("deploy", 0, { when: "manual", allowFailure: true }),
      job("after", 1),
    ]);
    expect(optional.status("after")).toBe("success");
    expect(optional.result.status).toBe("success");
  });

  it("plays a manual job when asked", async () => {
    const { status } = await run(
      [job("deploy", 0, { when: "manual", allowFailure: false }), job("after", 1)],
      { play: ["deploy"] },
    );
    expect(status("deploy")).toBe("success");
    expect(status("after")).toBe("success");
  });

  it("retries up to max, only on the listed exit codes", async () => {
    const retried = await run([
      job("flaky", 0, { exits: [137, 137, 0], retry: { max: 2, when: [], exitCodes: [137] } }),
    ]);
    expect(retried.result.jobs.get("flaky")).toMatchObject({ status: "success", attempts: 3 });

    const notListed = await run([
      job("broken", 0, { exits: [1, 0], retry: { max: 2, when: [], exitCodes: [137] } }),
    ]);
    expect(notListed.result.jobs.get("broken")).toMatchObject({ status: "failed", attempts: 1 });

    const exhausted = await run([
      job("down", 0, { exits: [1], retry: { max: 1, when: ["always"], exitCodes: [] } }),
    ]);
    expect(exhausted.result.jobs.get("down")).toMatchObject({ status: "failed", attempts: 2 });
  });

  it("never runs more jobs at once than the concurrency limit", async () => {
    const jobs = Array.from({ length: 8 }, (_, i) => job(`j${i}`, 0, { ms: 10 }));
    const { maxActive } = await run(jobs, { concurrency: 3 });
    expect(maxActive).toBe(3);
  });

  it("never overlaps jobs of one resource group", async () => {
    const { overlaps } = await run([
      job("deploy-a", 0, { ms: 20, resourceGroup: "prod" }),
      job("deploy-b", 0, { ms: 20, resourceGroup: "prod" }),
      job("other", 0, { ms: 20 }),
    ]);
    for (const active of overlaps) {
      expect(active.includes("deploy-a") && active.includes("deploy-b")).toBe(false);
    }
  });

  it("waits start_in before running a delayed job", async () => {
    const started = performance.now();
    const { log } = await run([job("later", 0, { when: "delayed", startInSeconds: 0.08 })]);
    expect(log).toEqual(["start later", "end later"]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(75);
  });

  it("cancels: running jobs get the signal, waiting jobs are canceled", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const { status, result } = await run([job("long", 0, { ms: 5_000 }), job("next", 1)], {
      cancel: controller.signal,
    });
    expect(status("long")).toBe("canceled");
    expect(status("next")).toBe("canceled");
    expect(result.status).toBe("canceled");
  });

  it("fails the job, not the pipeline run, when the executor throws", async () => {
    const result = await schedulePipeline({
      jobs: [job("boom", 0), job("next", 1, { when: "always" })],
      concurrency: 1,
      runAttempt: () => Promise.reject(new Error("engine gone")),
    });
    expect(result.jobs.get("boom")).toMatchObject({
      status: "failed",
      failureReason: "runner_system_failure",
    });
    expect(result.jobs.get("next")?.status).toBe("failed");
  });
});
