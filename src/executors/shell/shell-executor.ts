import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pierVersion } from "../../cli/version.ts";
import type { JobSpec, JobStep } from "../../job/spec.ts";
import { whenAllows, type JobOutcome } from "../../storage/artifacts.ts";
import { restoreCache, saveCache } from "../../storage/cache.ts";
import { leaseSlots, type SlotLease } from "../../storage/concurrency-slots.ts";
import { removeAside } from "../../storage/remove-aside.ts";
import { prepareSources } from "../../storage/sources.ts";
import { buildsRoot, spareCheckoutsRoot } from "../../storage/state-dir.ts";
import { formatGoDuration, writeJobHeader } from "../../trace/job-messages.ts";
import { phrasesFor } from "../../trace/mask-phrases.ts";
import { markPhase } from "../../trace/phase-timing.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import type { ExecutionContext, Executor, JobResult } from "../executor.ts";
import {
  cacheWhenMatches,
  errorMessage,
  gitStrategy,
  isAbort,
  logStorageLine,
  writeVerdict,
  type JobStatus,
  type Verdict,
} from "../job-stage-helpers.ts";
import { buildPathsFor, projectKeyFor, type BuildPaths } from "./build-paths.ts";
import { findHostShell, type HostShell } from "./find-shell.ts";
import { parseGoDuration } from "./go-duration.ts";
import {
  allowedHostEnv,
  DEFAULT_HOST_ENV_ALLOW_LIST,
  resolveJobVariables,
} from "./job-environment.ts";
import { runStep, type StepOutcome } from "./run-step.ts";
import { stepScript } from "./step-script.ts";

export interface ShellExecutorOptions {
  /** Between SIGTERM and SIGKILL when a step's processes are stopped. */
  killGraceMs?: number;
  /** Shown in the log header ("on <name>"). */
  runnerName?: string;
  /** The environment the allow-list picks from (tests pass their own). */
  hostEnv?: NodeJS.ProcessEnv;
  /** The shell to run scripts with; by default bash when the host has it, else sh. */
  shell?: HostShell;
  /**
   * Local mode: how many jobs of one pipeline this executor will likely run. While more are
   * expected, the next job's checkout is made in the background during the current job.
   */
  expectedJobs?: number;
}

const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_KILL_GRACE_MS = 5_000;
const MARKER_NAME = "PIER_JOB_MARKER";

interface JobState {
  spec: JobSpec;
  ctx: ExecutionContext;
  trace: TraceWriter;
  shell: HostShell;
  paths: BuildPaths;
  env: Record<string, string>;
  marker: string;
  deadline: number;
  /** Aborts when the job is canceled or its deadline passes: handed to storage calls. */
  jobSignal: AbortSignal;
  timedOut: () => boolean;
}

/**
 * Runs a JobSpec on this host, in a fresh build folder leased host-wide, with the job's own
 * environment, and leaves no process behind. Follows gitlab-runner's stages and log.
 */
export class ShellExecutor implements Executor {
  readonly name = "shell";
  readonly #killGraceMs: number;
  readonly #runnerName: string;
  readonly #hostEnv: NodeJS.ProcessEnv;
  readonly #shell: HostShell | undefined;
  #checkoutsExpected: number;

  constructor(options: ShellExecutorOptions = {}) {
    this.#killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.#runnerName = options.runnerName ?? hostname();
    this.#hostEnv = options.hostEnv ?? process.env;
    this.#shell = options.shell;
    this.#checkoutsExpected = options.expectedJobs ?? 0;
  }

  async run(spec: JobSpec, ctx: ExecutionContext): Promise<JobResult> {
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

    let lease: SlotLease | undefined;
    let paths: BuildPaths | undefined;
    let result: Verdict;
    let dotenv: Record<string, string> | undefined;
    try {
      markPhase(`${spec.job_info.name}: executor start`);
      writeJobHeader(trace, this.#runnerName);
      const shell = this.#shell ?? findHostShell();
      trace.sectionStart("prepare_executor", 'Preparing the "shell" executor');
      if (shell === undefined) {
        trace.sectionEnd("prepare_executor");
        throw new Error("no bash or sh found on this host");
      }
      trace.println(`Using Shell (${shell.kind}) executor...`);
      trace.sectionEnd("prepare_executor");

      const projectKey = projectKeyFor(spec, ctx.projectDir);
      lease = await leaseSlots({ stateDir: ctx.stateDir, projectKey, signal: jobAbort.signal });
      markPhase(`${spec.job_info.name}: leased`);
      paths = buildPathsFor({
        stateDir: ctx.stateDir,
        concurrentId: lease.concurrentId,
        projectKey,
        projectConcurrentId: lease.projectConcurrentId,
        projectPath: spec.job_info.project_full_path,
      });
      const state = await this.#prepare(spec, ctx, shell, paths, lease, {
        deadline,
        jobSignal: jobAbort.signal,
        timedOut: () => timedOut,
      });

      markPhase(`${spec.job_info.name}: prepared`);
      result = await this.#runJob(state);
      markPhase(`${spec.job_info.name}: script done`);
      if (result.status !== "canceled") {
        await this.#archiveCache(state, result.status === "success");
        const uploaded = await this.#uploadArtifacts(
          state,
          result.status === "success" ? "success" : "failed",
        );
        dotenv = uploaded.dotenv;
        if (uploaded.error !== undefined && result.status === "success") {
          result = { status: "failed", reason: "unknown_failure", systemMessage: uploaded.error };
        }
      }
    } catch (error) {
      if (ctx.signal.aborted && isAbort(error)) {
        result = { status: "canceled" };
      } else if (timedOut && isAbort(error)) {
        result = { status: "failed", reason: "job_execution_timeout" };
      } else {
        result = {
          status: "failed",
          reason: "runner_system_failure",
          systemMessage: errorMessage(error),
        };
      }
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onCancel);
    }

    markPhase(`${spec.job_info.name}: uploaded`);
    if (paths !== undefined) await this.#cleanup(trace, paths, ctx.stateDir);
    markPhase(`${spec.job_info.name}: cleaned`);
    if (lease !== undefined) await lease.release().catch(() => undefined);
    markPhase(`${spec.job_info.name}: released`);
    writeVerdict(trace, result, spec.runner_info.timeout);

    return {
      status: result.status,
      ...(result.exitCode !== undefined && { exitCode: result.exitCode }),
      ...(result.reason !== undefined && { failureReason: result.reason }),
      durationMs: Math.round(performance.now() - started),
      ...(dotenv !== undefined && { dotenv }),
    };
  }

  async #prepare(
    spec: JobSpec,
    ctx: ExecutionContext,
    shell: HostShell,
    paths: BuildPaths,
    lease: SlotLease,
    timing: { deadline: number; jobSignal: AbortSignal; timedOut: () => boolean },
  ): Promise<JobState> {
    const { trace } = ctx;
    const marker = randomUUID();
    const env = await trace.section("prepare_script", "Preparing environment", () =>
      this.#prepareEnvironment(spec, ctx, paths, lease, marker),
    );
    const state: JobState = {
      spec,
      ctx,
      trace,
      shell,
      paths,
      env,
      marker: `${MARKER_NAME}=${marker}`,
      ...timing,
    };
    markPhase(`${spec.job_info.name}: environment`);
    await this.#getSources(state);
    markPhase(`${spec.job_info.name}: sources`);
    await this.#restoreCaches(state);
    await this.#downloadArtifacts(state);
    return state;
  }

  /** Build folders, HOME and TMPDIR, and the job's environment. */
  async #prepareEnvironment(
    spec: JobSpec,
    ctx: ExecutionContext,
    paths: BuildPaths,
    lease: SlotLease,
    marker: string,
  ): Promise<Record<string, string>> {
    const { trace } = ctx;
    trace.println(`Running on ${hostname()}...`);
    await removeAside(paths.tmpDir, trashDir(ctx.stateDir));
    mkdirSync(paths.homeDir, { recursive: true });
    mkdirSync(paths.tmpdirDir, { recursive: true });
    const base: Record<string, string> = {
      ...allowedHostEnv(this.#hostEnv, [
        ...DEFAULT_HOST_ENV_ALLOW_LIST,
        ...(ctx.hostEnvAllowList ?? []),
      ]),
      HOME: paths.homeDir,
      TMPDIR: paths.tmpdirDir,
      CI_SERVER: "yes",
      CI_RUNNER_VERSION: pierVersion(),
      CI_RUNNER_REVISION: "",
      CI_RUNNER_DESCRIPTION: this.#runnerName,
      CI_RUNNER_TAGS: "",
      CI_RUNNER_EXECUTABLE_ARCH: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
    };
    const runnerOwned: Record<string, string> = {
      CI_BUILDS_DIR: paths.buildsDir,
      CI_PROJECT_DIR: paths.projectDir,
      CI_CONCURRENT_ID: String(lease.concurrentId),
      CI_CONCURRENT_PROJECT_ID: String(lease.projectConcurrentId),
      CI_SHARED_ENVIRONMENT: "true",
      CI_JOB_STATUS: "running",
    };
    const resolved = await resolveJobVariables({
      variables: spec.variables,
      base: { ...base, ...runnerOwned },
      tmpDir: paths.tmpDir,
    });
    // Expanded values can differ from the raw ones the caller masked: mask those too.
    for (const variable of spec.variables) {
      const value = resolved.env[variable.key];
      if (variable.masked && !variable.file && value !== undefined) {
        trace.addMaskPhrases(phrasesFor(value));
      }
    }
    return { ...base, ...resolved.env, ...runnerOwned, [MARKER_NAME]: marker };
  }

  async #getSources(state: JobState): Promise<void> {
    const { trace, env, spec, paths } = state;
    await trace.section("get_sources", "Getting source from Git repository", async () => {
      const strategy = gitStrategy(env["GIT_STRATEGY"], spec.allow_git_fetch);
      const depthText = env["GIT_DEPTH"];
      const depth =
        depthText !== undefined && /^\d+$/.test(depthText.trim())
          ? Number(depthText)
          : spec.git_info.depth;
      const includeChanges =
        state.ctx.projectDir !== undefined && (state.ctx.includeWorkingTreeChanges ?? true);
      if (strategy === "none") {
        trace.println("Skipping Git repository setup");
      } else if (strategy === "empty") {
        trace.println("Skipping Git repository setup and creating an empty build directory");
      } else {
        const how = strategy === "fetch" ? "Fetching changes" : "Cloning repository";
        trace.notice(depth > 0 ? `${how} with git depth set to ${depth}...` : `${how}...`);
      }
      this.#checkoutsExpected -= 1;
      await prepareSources({
        ...(state.ctx.projectDir !== undefined && { repoDir: state.ctx.projectDir }),
        ...(this.#checkoutsExpected > 0 && {
          spareDir: spareCheckoutsRoot(state.ctx.stateDir),
        }),
        gitInfo: spec.git_info,
        strategy,
        depth,
        target: paths.projectDir,
        includeWorkingTreeChanges: includeChanges,
        signal: state.jobSignal,
      });
      if (strategy === "clone" || strategy === "fetch") {
        const sha = spec.git_info.sha.slice(0, 8);
        trace.notice(`Checking out ${sha} as detached HEAD (ref is ${spec.git_info.ref})...`);
        if (includeChanges) trace.println("Including uncommitted changes from the working tree");
      }
    });
  }

  async #restoreCaches(state: JobState): Promise<void> {
    const caches = state.spec.cache.filter((cache) => cache.policy !== "push");
    if (caches.length === 0) return;
    const { trace } = state;
    await trace.section("restore_cache", "Restoring cache", async () => {
      for (const cache of caches) {
        try {
          await restoreCache({
            cacheDir: state.ctx.cacheDir,
            cache,
            projectDir: state.paths.projectDir,
            signal: state.jobSignal,
            log: (line) => logStorageLine(trace, line),
          });
        } catch (error) {
          if (isAbort(error)) throw error;
          trace.warning(`Failed to extract cache: ${errorMessage(error)}`);
        }
      }
    });
  }

  async #downloadArtifacts(state: JobState): Promise<void> {
    const deps = state.spec.dependencies.filter((dep) => dep.artifacts_file !== undefined);
    if (deps.length === 0) return;
    const { trace } = state;
    await trace.section("download_artifacts", "Downloading artifacts", async () => {
      for (const dep of deps) {
        trace.notice(`Downloading artifacts for ${dep.name} (${dep.id})...`);
        await state.ctx.artifacts.download(dep, state.paths.projectDir, state.jobSignal);
      }
    });
  }

  async #runJob(state: JobState): Promise<Verdict> {
    const { trace, spec, ctx } = state;
    const script = spec.steps.find((step) => step.name === "script");
    const afterScript = spec.steps.find((step) => step.name === "after_script");

    trace.sectionStart("step_script", 'Executing "step_script" stage of the job script');
    let outcome: StepOutcome = { kind: "exited", exitCode: 0 };
    const scriptLimit = parseGoDuration(state.env["RUNNER_SCRIPT_TIMEOUT"] ?? "");
    const remaining = state.deadline - Date.now();
    const byScriptLimit = scriptLimit !== undefined && scriptLimit > 0 && scriptLimit < remaining;
    if (script !== undefined) {
      outcome = await this.#runScriptStep(state, script, "step_script", {
        commands: script.script,
        timeoutMs: byScriptLimit ? scriptLimit : remaining,
        cancel: ctx.signal,
      });
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
      const limit = parseGoDuration(state.env["RUNNER_AFTER_SCRIPT_TIMEOUT"] ?? "");
      const timeoutMs = limit !== undefined && limit > 0 ? limit : DEFAULT_AFTER_SCRIPT_TIMEOUT_MS;
      const after = await this.#runScriptStep(state, afterScript, "after_script", {
        commands: afterScript.script,
        notice: "Running after script...",
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

  async #runScriptStep(
    state: JobState,
    step: JobStep,
    name: "step_script" | "after_script",
    options: {
      commands: readonly string[];
      timeoutMs: number;
      notice?: string;
      cancel?: AbortSignal;
      jobStatus?: JobStatus | "timedout";
    },
  ): Promise<StepOutcome> {
    void step;
    const scriptPath = join(state.paths.tmpDir, `${name}.sh`);
    const debugTrace = state.env["CI_DEBUG_TRACE"] === "true";
    writeFileSync(
      scriptPath,
      stepScript({
        shell: state.shell.kind,
        commands: options.commands,
        ...(options.notice !== undefined && { notice: options.notice }),
        debugTrace,
      }),
      { mode: 0o700 },
    );
    const env =
      options.jobStatus === undefined
        ? state.env
        : { ...state.env, CI_JOB_STATUS: options.jobStatus };
    return runStep({
      shellPath: state.shell.path,
      scriptPath,
      cwd: state.paths.projectDir,
      env,
      marker: state.marker,
      trace: state.trace,
      timeoutMs: options.timeoutMs,
      ...(options.cancel !== undefined && { cancel: options.cancel }),
      ...(state.ctx.hardKill !== undefined && { hardKill: state.ctx.hardKill }),
      killGraceMs: this.#killGraceMs,
    });
  }

  async #archiveCache(state: JobState, succeeded: boolean): Promise<void> {
    const caches = state.spec.cache.filter(
      (cache) => cache.policy !== "pull" && cacheWhenMatches(cache, succeeded),
    );
    if (caches.length === 0) return;
    const { trace } = state;
    const section = succeeded ? "archive_cache" : "archive_cache_on_failure";
    const title = succeeded ? "Saving cache for successful job" : "Saving cache for failed job";
    await trace.section(section, title, async () => {
      for (const cache of caches) {
        try {
          await saveCache({
            cacheDir: state.ctx.cacheDir,
            cache,
            projectDir: state.paths.projectDir,
            jobSucceeded: succeeded,
            signal: state.ctx.signal,
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
  async #uploadArtifacts(
    state: JobState,
    outcome: JobOutcome,
  ): Promise<{ dotenv?: Record<string, string>; error?: string }> {
    const artifacts = state.spec.artifacts.filter((artifact) => whenAllows(artifact.when, outcome));
    if (artifacts.length === 0) return {};
    const { trace, spec } = state;
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
          const uploaded = await state.ctx.artifacts.upload(
            { id: spec.id, name: spec.job_info.name, outcome },
            artifact,
            state.paths.projectDir,
            state.ctx.signal,
          );
          for (const info of uploaded.infos) trace.println(info);
          for (const warning of uploaded.warnings) trace.warning(warning);
          for (const error of uploaded.errors) trace.error(error);
          if (!uploaded.skipped && uploaded.files > 0) {
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

  /** The folders are moved aside at once and deleted in the background (see removeAside). */
  async #cleanup(trace: TraceWriter, paths: BuildPaths, stateDir: string): Promise<void> {
    trace.sectionStart(
      "cleanup_file_variables",
      "Cleaning up project directory and file based variables",
    );
    const trash = trashDir(stateDir);
    await removeAside(paths.tmpDir, trash).catch(() => undefined);
    await removeAside(paths.projectDir, trash).catch(() => undefined);
    trace.sectionEnd("cleanup_file_variables");
  }
}

/**
 * Where finished build folders wait for their background deletion: inside builds/, so a
 * rename gets them there, and `pier gc` removes what a killed pier left (no slot lock names it).
 */
function trashDir(stateDir: string): string {
  return join(buildsRoot(stateDir), ".removing");
}
