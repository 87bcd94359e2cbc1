import { performance } from "node:perf_hooks";
import type { JobSpec } from "../job/spec.ts";
import { whenAllows, type JobOutcome } from "../storage/artifacts.ts";
import { restoreCache, saveCache } from "../storage/cache.ts";
import type { GitStrategy } from "../storage/sources.ts";
import { formatGoDuration, writeJobHeader } from "../trace/job-messages.ts";
import { markPhase } from "../trace/phase-timing.ts";
import type { TraceWriter } from "../trace/trace-writer.ts";
import { JobFailure, type ExecutionContext, type JobResult } from "./executor.ts";
import {
  cacheWhenMatches,
  errorMessage,
  gitStrategy,
  isAbort,
  logStorageLine,
  writeVerdict,
  type JobStatus,
  type Verdict,
} from "./job-stage-helpers.ts";
import { parseGoDuration } from "./shell/go-duration.ts";
import type { StepOutcome } from "./shell/run-step.ts";

const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;

/** One job as the flow runs it: what every stage of every executor gets. */
export interface JobRun {
  spec: JobSpec;
  ctx: ExecutionContext;
  trace: TraceWriter;
  /** When the job's timeout runs out (epoch ms). */
  deadline: number;
  /** Aborts when the job is canceled or its deadline passes: handed to storage calls. */
  signal: AbortSignal;
}

export interface StepOptions {
  timeoutMs: number;
  /** Abort = cancel the step (the script step only: after_script runs to its own timeout). */
  cancel?: AbortSignal;
  /** after_script's CI_JOB_STATUS. */
  jobStatus?: JobStatus | "timedout";
}

/**
 * How one executor does the parts of a job that depend on where it runs. Made per job; every
 * method but `teardown` may throw (the flow turns it into the verdict). `teardown` runs on
 * every path, after whatever part of `prepare` happened.
 */
export interface JobStages {
  /** prepare_executor, prepare_script and get_sources (see `writeGetSources`). */
  prepare(): Promise<void>;
  /** The job's environment as resolved by `prepare` (RUNNER_*_TIMEOUT are read from it). */
  readonly env: Readonly<Record<string, string>>;
  /** The host folder caches are restored and dependencies' artifacts extracted into. */
  readonly hostProjectDir: string;
  /** After caches and artifacts are in place, before the script: put the build where it runs. */
  beforeScript?(): Promise<void>;
  runStep(step: "script" | "after_script", options: StepOptions): Promise<StepOutcome>;
  /** The job has no script step. */
  scriptSkipped?(): void;
  /** The project's files as the job left them, for saving caches and uploading artifacts. */
  filesForUpload(): Promise<string | undefined>;
  /** Maps errors of this executor's own to a verdict; cancel and timeout come first. */
  verdictForError?(
    error: unknown,
    how: { canceled: boolean; timedOut: boolean },
  ): Verdict | undefined;
  /** The cleanup section and everything the job leased or made; never throws. */
  teardown(): Promise<void>;
}

/**
 * A job's stages the way gitlab-runner runs them, on any executor: prepare, restore cache,
 * download artifacts, the script with the verdict, after_script (CI_JOB_STATUS, its own
 * timeout), save cache, upload artifacts, cleanup, and the log's last line; cancel, timeout
 * and hard kill handled at every stage.
 */
export async function runJobStages(
  spec: JobSpec,
  ctx: ExecutionContext,
  runnerName: string,
  stagesFor: (job: JobRun) => JobStages,
): Promise<JobResult> {
  const started = performance.now();
  const { trace } = ctx;
  const deadline = Date.now() + spec.runner_info.timeout * 1000;
  const jobAbort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(
    () => {
      timedOut = true;
      jobAbort.abort(new DOMException("job timeout", "TimeoutError"));
    },
    Math.min(spec.runner_info.timeout * 1000, 2 ** 31 - 1),
  );
  const onCancel = (): void => jobAbort.abort(ctx.signal.reason);
  if (ctx.signal.aborted) onCancel();
  ctx.signal.addEventListener("abort", onCancel, { once: true });

  const job: JobRun = { spec, ctx, trace, deadline, signal: jobAbort.signal };
  const stages = stagesFor(job);
  let result: Verdict;
  let dotenv: Record<string, string> | undefined;
  try {
    markPhase(`${spec.job_info.name}: executor start`);
    writeJobHeader(trace, runnerName);
    await stages.prepare();
    await restoreCaches(job, stages.hostProjectDir);
    await downloadArtifacts(job, stages.hostProjectDir);
    await stages.beforeScript?.();
    markPhase(`${spec.job_info.name}: prepared`);
    result = await runScripts(job, stages);
    markPhase(`${spec.job_info.name}: script done`);
    if (result.status !== "canceled") {
      const succeeded = result.status === "success";
      const outcome: JobOutcome = succeeded ? "success" : "failed";
      const wanted =
        spec.cache.some((c) => c.policy !== "pull" && cacheWhenMatches(c, succeeded)) ||
        spec.artifacts.some((a) => whenAllows(a.when, outcome));
      const projectDir = wanted ? await stages.filesForUpload() : undefined;
      if (projectDir !== undefined) {
        await archiveCaches(job, projectDir, succeeded);
        const uploaded = await uploadArtifacts(job, projectDir, outcome);
        dotenv = uploaded.dotenv;
        if (uploaded.error !== undefined && succeeded) {
          result = { status: "failed", reason: "unknown_failure", systemMessage: uploaded.error };
        }
      }
    }
  } catch (error) {
    const how = { canceled: ctx.signal.aborted, timedOut };
    result = stages.verdictForError?.(error, how) ?? verdictForError(error, how);
  } finally {
    clearTimeout(timer);
    ctx.signal.removeEventListener("abort", onCancel);
  }

  markPhase(`${spec.job_info.name}: uploaded`);
  await stages.teardown();
  writeVerdict(trace, result, spec.runner_info.timeout);
  return {
    status: result.status,
    ...(result.exitCode !== undefined && { exitCode: result.exitCode }),
    ...(result.reason !== undefined && { failureReason: result.reason }),
    durationMs: Math.round(performance.now() - started),
    ...(dotenv !== undefined && { dotenv }),
  };
}

function verdictForError(error: unknown, how: { canceled: boolean; timedOut: boolean }): Verdict {
  if (how.canceled && isAbort(error)) return { status: "canceled" };
  if (how.timedOut && isAbort(error)) return { status: "failed", reason: "job_execution_timeout" };
  if (error instanceof JobFailure) {
    return { status: "failed", reason: error.reason, systemMessage: error.message };
  }
  return { status: "failed", reason: "runner_system_failure", systemMessage: errorMessage(error) };
}

export interface SourcePlan {
  strategy: GitStrategy;
  depth: number;
  /** Local mode: the working tree's uncommitted changes go into the checkout too. */
  includeChanges: boolean;
}

/** GIT_STRATEGY and GIT_DEPTH as the job's variables set them. */
export function sourcePlanFor(job: JobRun, env: Readonly<Record<string, string>>): SourcePlan {
  const strategy = gitStrategy(env["GIT_STRATEGY"], job.spec.allow_git_fetch);
  const depthText = env["GIT_DEPTH"];
  const depth =
    depthText !== undefined && /^\d+$/.test(depthText.trim())
      ? Number(depthText)
      : job.spec.git_info.depth;
  const includeChanges =
    job.ctx.projectDir !== undefined && (job.ctx.includeWorkingTreeChanges ?? true);
  return { strategy, depth, includeChanges };
}

/** The get_sources section's lines around `checkout`, which puts the sources in place. */
export async function writeGetSources(
  job: JobRun,
  plan: SourcePlan,
  checkout: () => Promise<void>,
): Promise<void> {
  const { trace, spec } = job;
  const { strategy, depth } = plan;
  await trace.section("get_sources", "Getting source from Git repository", async () => {
    if (strategy === "none") {
      trace.println("Skipping Git repository setup");
    } else if (strategy === "empty") {
      trace.println("Skipping Git repository setup and creating an empty build directory");
    } else {
      const how = strategy === "fetch" ? "Fetching changes" : "Cloning repository";
      trace.notice(depth > 0 ? `${how} with git depth set to ${depth}...` : `${how}...`);
    }
    await checkout();
    if (strategy === "clone" || strategy === "fetch") {
      const sha = spec.git_info.sha.slice(0, 8);
      trace.notice(`Checking out ${sha} as detached HEAD (ref is ${spec.git_info.ref})...`);
      if (plan.includeChanges) trace.println("Including uncommitted changes from the working tree");
    }
  });
}

/** gitlab-runner's cleanup section around an executor's own removal work. */
export async function writeCleanup(trace: TraceWriter, body: () => Promise<void>): Promise<void> {
  trace.sectionStart(
    "cleanup_file_variables",
    "Cleaning up project directory and file based variables",
  );
  await body();
  trace.sectionEnd("cleanup_file_variables");
}

async function restoreCaches(job: JobRun, projectDir: string): Promise<void> {
  const caches = job.spec.cache.filter((cache) => cache.policy !== "push");
  if (caches.length === 0) return;
  const { trace } = job;
  await trace.section("restore_cache", "Restoring cache", async () => {
    for (const cache of caches) {
      try {
        await restoreCache({
          cacheDir: job.ctx.cacheDir,
          cache,
          projectDir,
          signal: job.signal,
          log: (line) => logStorageLine(trace, line),
        });
      } catch (error) {
        if (isAbort(error)) throw error;
        trace.warning(`Failed to extract cache: ${errorMessage(error)}`);
      }
    }
  });
}

async function downloadArtifacts(job: JobRun, projectDir: string): Promise<void> {
  const deps = job.spec.dependencies.filter((dep) => dep.artifacts_file !== undefined);
  if (deps.length === 0) return;
  const { trace } = job;
  await trace.section("download_artifacts", "Downloading artifacts", async () => {
    for (const dep of deps) {
      trace.notice(`Downloading artifacts for ${dep.name} (${dep.id})...`);
      await job.ctx.artifacts.download(dep, projectDir, job.signal);
    }
  });
}

/** step_script with the verdict it gives, then after_script, which cannot change it. */
async function runScripts(job: JobRun, stages: JobStages): Promise<Verdict> {
  const { trace, spec, ctx } = job;
  const script = spec.steps.find((step) => step.name === "script");
  const afterScript = spec.steps.find((step) => step.name === "after_script");

  trace.sectionStart("step_script", 'Executing "step_script" stage of the job script');
  let outcome: StepOutcome = { kind: "exited", exitCode: 0 };
  const scriptLimit = parseGoDuration(stages.env["RUNNER_SCRIPT_TIMEOUT"] ?? "");
  const remaining = job.deadline - Date.now();
  const byScriptLimit = scriptLimit !== undefined && scriptLimit > 0 && scriptLimit < remaining;
  if (script !== undefined) {
    outcome = await stages.runStep("script", {
      timeoutMs: byScriptLimit ? scriptLimit : remaining,
      cancel: ctx.signal,
    });
  } else {
    stages.scriptSkipped?.();
  }
  trace.sectionEnd("step_script");

  let result: Verdict;
  switch (outcome.kind) {
    case "exited":
      result =
        outcome.exitCode === 0
          ? { status: "success" }
          : { status: "failed", reason: "script_failure", exitCode: outcome.exitCode };
      break;
    case "timeout":
      result = {
        status: "failed",
        reason: "job_execution_timeout",
        ...(byScriptLimit && { timeoutSeconds: scriptLimit / 1000 }),
      };
      break;
    case "canceled":
      result = { status: "canceled" };
      break;
    case "spawn_failed":
      result = {
        status: "failed",
        reason: "runner_system_failure",
        systemMessage: outcome.message,
      };
      break;
  }

  const wantsAfterScript =
    afterScript !== undefined &&
    afterScript.script.some((line) => line.trim() !== "") &&
    ctx.hardKill?.aborted !== true &&
    outcome.kind !== "spawn_failed";
  if (wantsAfterScript) {
    trace.sectionStart("after_script", "Running after_script");
    const limit = parseGoDuration(stages.env["RUNNER_AFTER_SCRIPT_TIMEOUT"] ?? "");
    const timeoutMs = limit !== undefined && limit > 0 ? limit : DEFAULT_AFTER_SCRIPT_TIMEOUT_MS;
    const after = await stages.runStep("after_script", {
      timeoutMs,
      // gitlab-runner (since 17.1) tells after_script a timeout apart from a failure.
      jobStatus: result.reason === "job_execution_timeout" ? "timedout" : result.status,
    });
    if (after.kind === "exited" && after.exitCode !== 0) {
      trace.warning(
        `after_script failed, but job will continue unaffected: exit code ${after.exitCode}`,
      );
    } else if (after.kind === "timeout") {
      trace.warning(
        `after_script failed, but job will continue unaffected: execution took longer than ${formatGoDuration(timeoutMs / 1000)} seconds`,
      );
    }
    trace.sectionEnd("after_script");
  }
  return result;
}

async function archiveCaches(job: JobRun, projectDir: string, succeeded: boolean): Promise<void> {
  const caches = job.spec.cache.filter(
    (cache) => cache.policy !== "pull" && cacheWhenMatches(cache, succeeded),
  );
  if (caches.length === 0) return;
  const { trace } = job;
  const section = succeeded ? "archive_cache" : "archive_cache_on_failure";
  const title = succeeded ? "Saving cache for successful job" : "Saving cache for failed job";
  await trace.section(section, title, async () => {
    for (const cache of caches) {
      try {
        await saveCache({
          cacheDir: job.ctx.cacheDir,
          cache,
          projectDir,
          jobSucceeded: succeeded,
          signal: job.ctx.signal,
          log: (line) => logStorageLine(trace, line),
        });
      } catch (error) {
        if (isAbort(error)) throw error;
        trace.warning(`Failed to create cache: ${errorMessage(error)}`);
      }
    }
  });
}

/** Uploads what `artifacts:when` allows; an upload GitLab would reject fails the job. */
async function uploadArtifacts(
  job: JobRun,
  projectDir: string,
  outcome: JobOutcome,
): Promise<{ dotenv?: Record<string, string>; error?: string }> {
  const artifacts = job.spec.artifacts.filter((artifact) => whenAllows(artifact.when, outcome));
  if (artifacts.length === 0) return {};
  const { trace, spec } = job;
  const section =
    outcome === "success" ? "upload_artifacts_on_success" : "upload_artifacts_on_failure";
  const title =
    outcome === "success"
      ? "Uploading artifacts for successful job"
      : "Uploading artifacts for failed job";
  return trace.section(section, title, async () => {
    let dotenv: Record<string, string> | undefined;
    for (const artifact of artifacts) {
      const type = artifact.artifact_type;
      trace.notice("Uploading artifacts...");
      try {
        const uploaded = await job.ctx.artifacts.upload(
          { id: spec.id, name: spec.job_info.name, outcome },
          artifact,
          projectDir,
          job.ctx.signal,
        );
        for (const info of uploaded.infos) trace.println(info);
        for (const warning of uploaded.warnings) trace.warning(warning);
        for (const error of uploaded.errors) trace.error(error);
        if (uploaded.reported !== true && !uploaded.skipped && uploaded.files > 0) {
          trace.println(`Uploading artifacts as "${type}" to the run's folder... ok`);
        }
        if (uploaded.dotenv !== undefined) dotenv = { ...dotenv, ...uploaded.dotenv };
      } catch (error) {
        if (isAbort(error)) throw error;
        const text = `Uploading artifacts as "${type}" failed: ${errorMessage(error)}`;
        trace.error(text);
        return { ...(dotenv !== undefined && { dotenv }), error: text };
      }
    }
    return dotenv === undefined ? {} : { dotenv };
  });
}
