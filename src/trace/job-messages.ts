import { hostname } from "node:os";
import { pierVersion } from "../cli/version.ts";
import type { TraceWriter } from "./trace-writer.ts";

/** The first lines of every job log, like gitlab-runner's "Running with gitlab-runner …". */
export function writeJobHeader(trace: TraceWriter, runnerName: string = hostname()): void {
  trace.println(`Running with pier ${pierVersion()}`);
  trace.println(`  on ${runnerName}`);
}

/** "Job succeeded", in green, the last line of a successful job's log. */
export function writeJobSucceeded(trace: TraceWriter): void {
  trace.notice("Job succeeded");
}

/** The last line of a failed job's log, in gitlab-runner's words. */
export function writeJobFailed(
  trace: TraceWriter,
  failure:
    | { kind: "exit_code"; exitCode: number }
    | { kind: "timeout"; timeoutSeconds: number }
    | { kind: "canceled" }
    | { kind: "system"; message: string }
    | { kind: "other"; message: string },
): void {
  switch (failure.kind) {
    case "exit_code":
      trace.error(`Job failed: exit code ${failure.exitCode}`);
      return;
    case "timeout":
      trace.error(
        `Job failed: execution took longer than ${formatGoDuration(failure.timeoutSeconds)} seconds`,
      );
      return;
    case "canceled":
      trace.error("Job failed: canceled");
      return;
    case "system":
      trace.error(`Job failed (system failure): ${failure.message}`);
      return;
    case "other":
      trace.error(`Job failed: ${failure.message}`);
      return;
  }
}

/** Go's time.Duration String(): 3600 → "1h0m0s", 90 → "1m30s", 5 → "5s". */
export function formatGoDuration(totalSeconds: number): string {
  const seconds = Math.max(0, Math.round(totalSeconds));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
