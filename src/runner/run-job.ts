import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Executor, JobResult } from "../executors/executor.ts";
import type { JobSpec } from "../job/spec.ts";
import { maskPhrases, phrasesFor } from "../trace/mask-phrases.ts";
import { TraceWriter } from "../trace/trace-writer.ts";
import type { RunnerEntry } from "./config-toml.ts";
import { failureReasonFor } from "./failure-reasons.ts";
import { backoffDelayMs, type GitLabClient } from "./gitlab-client.ts";
import { runnerArtifactTransport } from "./runner-artifacts.ts";
import { runnerCacheDir } from "./runner-cache-dir.ts";
import { shortToken } from "./short-token.ts";
import { updateJob, type JobPayload, type JobUpdate } from "./runner-api.ts";
import { jobSpecForRunner } from "./runner-job-spec.ts";
import { TraceUploader } from "./trace-uploader.ts";

export interface RunnerJobOptions {
  client: GitLabClient;
  entry: RunnerEntry;
  systemId: string;
  job: JobPayload;
  executor: Executor;
  stateDir: string;
  /** Where the job's log is also written, byte for byte what GitLab receives. */
  logFile: string;
  /** Forceful shutdown (SIGTERM/SIGINT): abort the job, report it as a runner system failure. */
  shutdown: AbortSignal;
  traceUpdateIntervalMs?: number;
  forceSendIntervalMs?: number;
  /** Retries of the final update (gitlab-runner: job_status_final_update_retry_limit = 10). */
  finalUpdateAttempts?: number;
}

export interface RunnerJobOutcome {
  /**
   * What GitLab was told; "aborted" when GitLab ended the job itself (canceled, 403);
   * "unreported" when GitLab could not be reached: the crash journal keeps the job then.
   */
  reported: "success" | "failed" | "aborted" | "unreported";
  update?: JobUpdate;
  result: JobResult;
}

const DEFAULT_OUTPUT_LIMIT_KIB = 4096;
const MAX_FINAL_WAIT_MS = 60_000;

/**
 * Runs one job GitLab handed out: the same JobSpec path as local mode, its log streamed to
 * GitLab while it runs, cancellation taken from `Job-Status`, then the final state with the
 * log's checksum and size, retried until GitLab has it.
 */
export async function runRunnerJob(o: RunnerJobOptions): Promise<RunnerJobOutcome> {
  const { job, entry } = o;
  const spec = jobSpecForRunner(job, entry);
  const cancel = new AbortController();
  const hardKill = new AbortController();
  let abortedByServer = false;
  let shutdownAbort = false;
  const onJobStatus = (status: string): void => {
    if (status === "canceling") {
      cancel.abort(new DOMException("canceled in GitLab", "AbortError"));
    } else if (status === "canceled" || status === "failed") {
      abortedByServer = true;
      cancel.abort(new DOMException(`${status} in GitLab`, "AbortError"));
      hardKill.abort();
    }
  };
  const onShutdown = (): void => {
    shutdownAbort = true;
    cancel.abort(new DOMException("runner shutting down", "AbortError"));
    hardKill.abort();
  };
  if (o.shutdown.aborted) onShutdown();
  o.shutdown.addEventListener("abort", onShutdown, { once: true });

  const uploader = new TraceUploader({
    client: o.client,
    jobId: job.id,
    jobToken: job.token,
    systemId: o.systemId,
    outputLimitBytes: outputLimitBytesFor(entry),
    ...(o.traceUpdateIntervalMs !== undefined && { updateIntervalMs: o.traceUpdateIntervalMs }),
    ...(o.forceSendIntervalMs !== undefined && { forceSendIntervalMs: o.forceSendIntervalMs }),
    onJobStatus,
  });
  const trace = new TraceWriter({
    maskPhrases: [...maskPhrases(spec.variables), ...phrasesFor(job.token)],
    logFile: o.logFile,
    onData: (chunk) => uploader.append(chunk),
  });
  uploader.start();
  const artifacts = runnerArtifactTransport({
    client: o.client,
    job,
    log: trace,
    stateDir: o.stateDir,
  });

  warnAboutUnrunHooks(spec, trace);
  let result: JobResult;
  try {
    result = await o.executor.run(spec, {
      trace,
      signal: cancel.signal,
      hardKill: hardKill.signal,
      stateDir: o.stateDir,
      cacheDir: runnerCacheDir(entry, o.stateDir, spec),
      ...(entry.buildsDir && {
        buildsDir: entry.buildsDir,
        runnerShortToken: shortToken(entry.token),
      }),
      artifacts,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    trace.error(`Job failed (system failure): ${message}`);
    result = { status: "failed", failureReason: "runner_system_failure", durationMs: 0 };
  } finally {
    o.shutdown.removeEventListener("abort", onShutdown);
  }
  result = artifacts.settle(result);
  if (shutdownAbort && !abortedByServer) {
    trace.error("Job failed (system failure): aborted: the runner is shutting down");
  }
  await trace.close().catch(() => undefined);
  await uploader.finish();

  if (abortedByServer || uploader.closedByServer) {
    return { reported: "aborted", result };
  }
  const update = finalUpdate(result, job, shutdownAbort, uploader);
  const answer = await sendFinalUpdate(
    {
      client: o.client,
      jobId: job.id,
      jobToken: job.token,
      systemId: o.systemId,
      ...(o.finalUpdateAttempts !== undefined && { attempts: o.finalUpdateAttempts }),
    },
    uploader,
    update,
  );
  const reported =
    answer === "accepted" ? update.state : answer === "refused" ? "aborted" : "unreported";
  return { reported, update, result };
}

/**
 * `hooks:pre_get_sources_script` runs before the sources are fetched, in gitlab-runner's build
 * shell; pier fetches them on the host before any job shell exists, so it cannot run it there.
 */
function warnAboutUnrunHooks(spec: JobSpec, trace: TraceWriter): void {
  for (const hook of spec.hooks ?? []) {
    if (hook.name === "pre_get_sources_script" && hook.script.length > 0) {
      trace.warning(
        "hooks:pre_get_sources_script is not run: pier fetches the sources on the host, before the job's shell starts",
      );
    }
  }
}

function finalUpdate(
  result: JobResult,
  job: JobPayload,
  shutdownAbort: boolean,
  uploader: TraceUploader,
): JobUpdate & { state: "success" | "failed" } {
  const output = { checksum: uploader.checksum, bytesize: uploader.bytesize };
  if (result.status === "success" && !shutdownAbort) return { state: "success", ...output };
  const accepted = job.features?.failure_reasons;
  const reason = shutdownAbort
    ? "runner_system_failure"
    : result.status === "canceled"
      ? "job_canceled"
      : result.failureReason;
  return {
    state: "failed",
    failureReason: failureReasonFor(reason, accepted),
    ...(result.exitCode !== undefined && !shutdownAbort && { exitCode: result.exitCode }),
    ...output,
  };
}

export interface FinalUpdateTarget {
  client: GitLabClient;
  jobId: number;
  jobToken: string;
  systemId: string;
  /** Retries of the final update (gitlab-runner: job_status_final_update_retry_limit = 10). */
  attempts?: number;
}

/**
 * The final `PUT`: 202 means "trace still being stored, ask again"; 412 asks for the whole
 * trace. "refused" when GitLab no longer takes updates for the job (it ended it itself);
 * "unreported" when it could not be told.
 */
export async function sendFinalUpdate(
  target: FinalUpdateTarget,
  uploader: TraceUploader,
  update: JobUpdate,
): Promise<"accepted" | "refused" | "unreported"> {
  const attempts = target.attempts ?? 10;
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    let waitMs = backoffDelayMs(attempt, 500, MAX_FINAL_WAIT_MS);
    try {
      const response = await updateJob(target.client, {
        jobId: target.jobId,
        jobToken: target.jobToken,
        systemId: target.systemId,
        update,
      });
      const { status } = response;
      if (status === 200) return "accepted";
      if (status === 403 || status === 404) return "refused";
      if (response.jobStatus === "canceled" || response.jobStatus === "failed") return "refused";
      if (status === 202 && response.updateIntervalSeconds !== undefined) {
        waitMs = Math.min(response.updateIntervalSeconds * 1000, MAX_FINAL_WAIT_MS);
      }
      if (status === 412) uploader.resend();
    } catch {
      // Unreachable: retried below.
    }
    await sleep(waitMs);
    // Whatever the answer, make sure GitLab has the whole log before asking again.
    await uploader.flush();
  }
  return "unreported";
}

/** `output_limit` in bytes (gitlab-runner's default: 4 MiB). */
export function outputLimitBytesFor(entry: Pick<RunnerEntry, "outputLimit">): number {
  return (entry.outputLimit ?? DEFAULT_OUTPUT_LIMIT_KIB) * 1024;
}

/** `<state>/runner/jobs/<id>.log`. */
export function runnerJobLogFile(stateDir: string, jobId: number): string {
  return join(stateDir, "runner", "jobs", `${jobId}.log`);
}
