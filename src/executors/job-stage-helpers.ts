import type { JobCache } from "../job/spec.ts";
import { whenAllows } from "../storage/artifacts.ts";
import type { GitStrategy } from "../storage/sources.ts";
import { writeJobFailed, writeJobSucceeded } from "../trace/job-messages.ts";
import type { TraceWriter } from "../trace/trace-writer.ts";
import type { FailureReason } from "./executor.ts";

/** Pieces of a job's stages that do not depend on where the job runs (shared by executors). */

export type JobStatus = "success" | "failed" | "canceled";

export interface Verdict {
  status: JobStatus;
  reason?: FailureReason;
  exitCode?: number;
  /** What went wrong, for the log's last line (when there is no exit code). */
  systemMessage?: string;
  /** For job_execution_timeout: the limit that was hit, when not the job's timeout. */
  timeoutSeconds?: number;
}

const GIT_STRATEGIES: readonly GitStrategy[] = ["clone", "fetch", "none", "empty"];

export function gitStrategy(value: string | undefined, allowFetch: boolean): GitStrategy {
  const wanted = GIT_STRATEGIES.find((strategy) => strategy === value?.trim());
  return wanted ?? (allowFetch ? "fetch" : "clone");
}

export function cacheWhenMatches(cache: JobCache, succeeded: boolean): boolean {
  return whenAllows(cache.when, succeeded ? "success" : "failed");
}

/** Storage reports in gitlab-runner's words; its warnings go out in yellow, the rest in green. */
export function logStorageLine(trace: TraceWriter, line: string): void {
  if (line.startsWith("WARNING: ")) trace.warning(line.slice("WARNING: ".length));
  else if (line === "Failed to extract cache") trace.warning(line);
  else trace.notice(line);
}

export function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The log's last line, in gitlab-runner's words. */
export function writeVerdict(trace: TraceWriter, result: Verdict, timeoutSeconds: number): void {
  if (result.status === "success") {
    writeJobSucceeded(trace);
  } else if (result.status === "canceled") {
    writeJobFailed(trace, { kind: "canceled" });
  } else if (result.reason === "job_execution_timeout") {
    writeJobFailed(trace, {
      kind: "timeout",
      timeoutSeconds: result.timeoutSeconds ?? timeoutSeconds,
    });
  } else if (result.exitCode !== undefined) {
    writeJobFailed(trace, { kind: "exit_code", exitCode: result.exitCode });
  } else if (result.reason === "runner_system_failure") {
    writeJobFailed(trace, { kind: "system", message: result.systemMessage ?? "unknown error" });
  } else {
    writeJobFailed(trace, { kind: "other", message: result.systemMessage ?? "unknown error" });
  }
}
