import { writeFileSync } from "node:fs";
import type { LocalRunResult } from "../local/run-pipeline.ts";

/** The `--report FILE` document: pipeline status and, per job, what happened, in GitLab's words. */
export function jsonReport(result: LocalRunResult): unknown {
  return {
    pipeline_id: result.pipelineId,
    status: result.status,
    duration: result.durationMs / 1000,
    run_dir: result.runDir,
    jobs: result.jobs.map((job) => ({
      name: job.name,
      stage: job.stage,
      status: job.status,
      exit_code: job.exitCode ?? null,
      duration: job.durationMs / 1000,
      allow_failure: job.allowFailure,
      failure_reason: job.failureReason ?? null,
      attempts: job.attempts,
      log: job.logFile ?? null,
    })),
  };
}

export function writeJsonReport(file: string, result: LocalRunResult): void {
  writeFileSync(file, `${JSON.stringify(jsonReport(result), null, 2)}\n`);
}
