import type { JobSpec } from "../job/spec.ts";
import type { ArtifactTransport } from "../storage/artifacts.ts";
import type { TraceWriter } from "../trace/trace-writer.ts";

/** Why a job failed, in GitLab's words (the `failure_reason` of `PUT /jobs/:id`). */
export type FailureReason =
  | "script_failure"
  | "job_execution_timeout"
  | "runner_system_failure"
  | "image_pull_failure"
  | "missing_dependency_failure"
  | "unknown_failure";

/**
 * A failure that is the job's, not the runner's, with GitLab's reason for it: thrown by what
 * an executor calls (an artifact transport), it ends the job with "ERROR: Job failed: …".
 */
export class JobFailure extends Error {
  readonly reason: FailureReason;

  constructor(message: string, reason: FailureReason, options?: ErrorOptions) {
    super(message, options);
    this.name = "JobFailure";
    this.reason = reason;
  }
}

export interface JobResult {
  status: "success" | "failed" | "canceled";
  /** The script's exit code when it ran and failed. */
  exitCode?: number;
  failureReason?: FailureReason;
  durationMs: number;
  /** Variables from `artifacts:reports:dotenv`, for the jobs that depend on this one. */
  dotenv?: Record<string, string>;
}

export interface ExecutionContext {
  /** The job's log; the executor writes every stage into it and closes nothing (the caller does). */
  trace: TraceWriter;
  /** Abort = cancel: run after_script (with its own timeout), then stop; the result is "canceled". */
  signal: AbortSignal;
  /** Abort = kill everything now (a second Ctrl-C). */
  hardKill?: AbortSignal;
  /** Local mode: the repository to snapshot into the build folder. */
  projectDir?: string;
  /** Local mode: also copy the working tree's uncommitted changes to tracked files (default true). */
  includeWorkingTreeChanges?: boolean;
  /** pier's state root ($XDG_STATE_HOME/pier); builds live under it. */
  stateDir: string;
  artifacts: ArtifactTransport;
  /** Where this project's caches live. */
  cacheDir: string;
  /**
   * config.toml's `builds_dir`: the shell executor's host folder for build folders (laid out
   * `<builds_dir>/<runner short token>/<concurrent id>/<namespace>/<project>`), the Docker
   * executor's path inside the container (default `/builds`).
   */
  buildsDir?: string;
  /** Runner mode: the runner's short token, the first level under `buildsDir` (shell). */
  runnerShortToken?: string;
  /** Extra host variables to let through to the job, on top of the default allow-list. */
  hostEnvAllowList?: readonly string[];
}

/**
 * Runs one JobSpec. Never throws for a failing script: a failure is a result. Teardown is
 * idempotent and runs on every path (success, failure, timeout, cancel).
 */
export interface Executor {
  readonly name: string;
  run(spec: JobSpec, ctx: ExecutionContext): Promise<JobResult>;
}
