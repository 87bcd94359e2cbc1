import {
  compositeStatus,
  finishedStatuses,
  type CompositeStatus,
  type ContributedStatus,
  type JobStatus,
} from "./job-status.ts";
import { shouldRetry, type RetryPolicy } from "./retry-policy.ts";

/** What the scheduler needs to know about a planned job. */
export interface SchedulableJob {
  name: string;
  stageIndex: number;
  when: "on_success" | "on_failure" | "always" | "manual" | "delayed";
  startInSeconds?: number;
  allowFailure: boolean | { exitCodes: number[] };
  /** undefined: wait for every earlier stage; []: start at once. */
  needs?: ReadonlyArray<{ job: string; optional?: boolean }>;
  retry: RetryPolicy;
  resourceGroup?: string;
}

export interface AttemptResult {
  status: "success" | "failed" | "canceled";
  exitCode?: number;
  failureReason?: string;
}

export interface JobOutcome {
  name: string;
  status: JobStatus;
  attempts: number;
  exitCode?: number;
  failureReason?: string;
  /** Failed, but allowed to fail: counts as success with a warning. */
  allowedFailure: boolean;
  durationMs: number;
}

export type SchedulerEvent =
  | { type: "status"; job: string; status: JobStatus; attempt: number }
  | { type: "retry"; job: string; attempt: number; result: AttemptResult };

export type PipelineStatus = "success" | "failed" | "canceled" | "skipped" | "manual";

export interface ScheduleOptions<J extends SchedulableJob> {
  jobs: readonly J[];
  concurrency: number;
  /** Manual jobs to play. */
  play?: ReadonlySet<string>;
  runAttempt(job: J, attempt: number, signal: AbortSignal): Promise<AttemptResult>;
  onEvent?(event: SchedulerEvent): void;
  /** Aborting cancels the pipeline: waiting jobs are canceled, running ones get the signal. */
  cancel?: AbortSignal;
}

export interface ScheduleResult {
  status: PipelineStatus;
  jobs: Map<string, JobOutcome>;
}

interface JobState<J> {
  job: J;
  status: JobStatus;
  attempts: number;
  result?: AttemptResult;
  startedAt?: number;
  durationMs: number;
  timer?: NodeJS.Timeout | undefined;
}

/**
 * Runs a pipeline's jobs the way GitLab's pipeline processing does: a job starts the moment
 * what it waits for is done (its needs, or the earlier stages), never in batches; statuses
 * propagate by GitLab's composite rules; retries, delayed and manual jobs, resource groups
 * and a concurrency limit are honoured.
 */
export function schedulePipeline<J extends SchedulableJob>(
  options: ScheduleOptions<J>,
): Promise<ScheduleResult> {
  const states = new Map<string, JobState<J>>();
  for (const job of options.jobs)
    states.set(job.name, { job, status: "created", attempts: 0, durationMs: 0 });
  const byStage = [...states.values()].sort((a, b) => a.job.stageIndex - b.job.stageIndex);
  const queue: JobState<J>[] = [];
  const busyGroups = new Set<string>();
  const play = options.play ?? new Set<string>();
  const cancel = options.cancel;
  let running = 0;
  let canceled = false;

  return new Promise<ScheduleResult>((resolve) => {
    const setStatus = (state: JobState<J>, status: JobStatus): void => {
      state.status = status;
      options.onEvent?.({ type: "status", job: state.job.name, status, attempt: state.attempts });
    };

    const contribution = (state: JobState<J>): ContributedStatus => {
      if (state.status === "failed" && isAllowedFailure(state.job, state.result)) {
        return "success_with_warnings";
      }
      if (state.status === "manual" && state.job.allowFailure !== false) return "ignored";
      return state.status;
    };

    const previousStatus = (state: JobState<J>): CompositeStatus => {
      const needs = state.job.needs;
      if (needs !== undefined) {
        const needed = needs.flatMap((need) => {
          const found = states.get(need.job);
          return found === undefined ? [] : [contribution(found)];
        });
        return compositeStatus(needed, true);
      }
      const earlier: ContributedStatus[] = [];
      for (const other of byStage) {
        if (other.job.stageIndex >= state.job.stageIndex) break;
        earlier.push(contribution(other));
      }
      return compositeStatus(earlier, false);
    };

    const decide = (state: JobState<J>): boolean => {
      const previous = previousStatus(state);
      if (!["success", "failed", "canceled", "skipped"].includes(previous)) return false;
      const dag = state.job.needs !== undefined;
      const runs = (() => {
        switch (state.job.when) {
          case "on_success":
          case "manual":
          case "delayed":
            return previous === "success" || (!dag && previous === "skipped");
          case "on_failure":
            return previous === "failed";
          case "always":
            return previous !== "canceled";
        }
      })();
      if (!runs) {
        setStatus(state, "skipped");
      } else if (state.job.when === "manual" && !play.has(state.job.name)) {
        setStatus(state, "manual");
      } else if (state.job.when === "delayed" && (state.job.startInSeconds ?? 0) > 0) {
        setStatus(state, "scheduled");
        state.timer = setTimeout(
          () => {
            state.timer = undefined;
            enqueue(state);
            tick();
          },
          (state.job.startInSeconds ?? 0) * 1000,
        );
      } else {
        enqueue(state);
      }
      return true;
    };

    const enqueue = (state: JobState<J>): void => {
      setStatus(state, "pending");
      queue.push(state);
    };

    const start = (state: JobState<J>): void => {
      running += 1;
      if (state.job.resourceGroup !== undefined) busyGroups.add(state.job.resourceGroup);
      state.attempts += 1;
      state.startedAt = performance.now();
      setStatus(state, "running");
      const signal = cancel ?? new AbortController().signal;
      options
        .runAttempt(state.job, state.attempts, signal)
        // An executor that throws has failed the job, not the pipeline.
        .catch((): AttemptResult => ({ status: "failed", failureReason: "runner_system_failure" }))
        .then((result) => finish(state, result))
        .catch(() => undefined);
    };

    const finish = (state: JobState<J>, result: AttemptResult): void => {
      running -= 1;
      if (state.job.resourceGroup !== undefined) busyGroups.delete(state.job.resourceGroup);
      state.durationMs += performance.now() - (state.startedAt ?? performance.now());
      state.result = result;
      if (
        result.status === "failed" &&
        !canceled &&
        shouldRetry(state.job.retry, state.attempts, result)
      ) {
        options.onEvent?.({ type: "retry", job: state.job.name, attempt: state.attempts, result });
        enqueue(state);
      } else {
        setStatus(state, result.status);
      }
      tick();
    };

    const startReady = (): void => {
      for (let i = 0; i < queue.length && running < options.concurrency;) {
        const state = queue[i]!;
        const group = state.job.resourceGroup;
        if (group !== undefined && busyGroups.has(group)) {
          i += 1;
          continue;
        }
        queue.splice(i, 1);
        start(state);
      }
    };

    const tick = (): void => {
      if (!canceled) {
        let changed = true;
        while (changed) {
          changed = false;
          for (const state of byStage) {
            if (state.status === "created" && decide(state)) changed = true;
          }
        }
        startReady();
      }
      const waiting = [...states.values()].some(
        (state) => state.status === "scheduled" || state.status === "pending",
      );
      if (running === 0 && !waiting) {
        cancel?.removeEventListener("abort", onCancel);
        resolve({ status: pipelineStatus(), jobs: outcomes() });
      }
    };

    const onCancel = (): void => {
      canceled = true;
      queue.length = 0;
      for (const state of states.values()) {
        if (state.timer !== undefined) clearTimeout(state.timer);
        if (!finishedStatuses.has(state.status) && state.status !== "running") {
          setStatus(state, "canceled");
        }
      }
      tick();
    };

    const pipelineStatus = (): PipelineStatus => {
      if (canceled) return "canceled";
      const all = [...states.values()];
      if (all.some((state) => state.status === "created" || state.status === "manual")) {
        const blocked = all.some((s) => s.status === "manual" && s.job.allowFailure === false);
        const rest = compositeStatus(
          all.filter((s) => s.status !== "created" && s.status !== "manual").map(contribution),
          false,
        );
        if (rest === "failed" || rest === "canceled") return rest;
        if (blocked) return "manual";
      }
      const status = compositeStatus(all.map(contribution), false);
      return status === "running" || status === "scheduled" ? "manual" : status;
    };

    const outcomes = (): Map<string, JobOutcome> =>
      new Map(
        [...states.values()].map((state) => [
          state.job.name,
          {
            name: state.job.name,
            status: state.status,
            attempts: state.attempts,
            ...(state.result?.exitCode === undefined ? {} : { exitCode: state.result.exitCode }),
            ...(state.result?.failureReason === undefined || state.status !== "failed"
              ? {}
              : { failureReason: state.result.failureReason }),
            allowedFailure: state.status === "failed" && isAllowedFailure(state.job, state.result),
            durationMs: Math.round(state.durationMs),
          },
        ]),
      );

    if (cancel?.aborted) {
      onCancel();
      return;
    }
    cancel?.addEventListener("abort", onCancel, { once: true });
    tick();
  });
}

function isAllowedFailure(job: SchedulableJob, result: AttemptResult | undefined): boolean {
  if (job.allowFailure === true) return true;
  if (job.allowFailure === false) return false;
  return result?.exitCode !== undefined && job.allowFailure.exitCodes.includes(result.exitCode);
}
