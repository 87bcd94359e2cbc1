import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pierVersion } from "../../cli/version.ts";
import type { JobSpec } from "../../job/spec.ts";
import { leaseSlots, type SlotLease } from "../../storage/concurrency-slots.ts";
import { removeAside } from "../../storage/remove-aside.ts";
import { prepareSources } from "../../storage/sources.ts";
import { buildsRoot, spareCheckoutsRoot } from "../../storage/state-dir.ts";
import { phrasesFor } from "../../trace/mask-phrases.ts";
import { markPhase } from "../../trace/phase-timing.ts";
import type { ExecutionContext, Executor, JobResult } from "../executor.ts";
import {
  runJobStages,
  sourcePlanFor,
  writeCleanup,
  writeGetSources,
  type JobRun,
  type JobStages,
  type StepOptions,
} from "../job-stages.ts";
import { buildPathsFor, projectKeyFor, type BuildPaths } from "./build-paths.ts";
import { findHostShell, type HostShell } from "./find-shell.ts";
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

const DEFAULT_KILL_GRACE_MS = 5_000;
const MARKER_NAME = "PIER_JOB_MARKER";

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

  run(spec: JobSpec, ctx: ExecutionContext): Promise<JobResult> {
    return runJobStages(spec, ctx, this.#runnerName, (job) => {
      return new ShellJobStages(job, {
        killGraceMs: this.#killGraceMs,
        runnerName: this.#runnerName,
        hostEnv: this.#hostEnv,
        shell: () => this.#shell ?? findHostShell(),
        // While more jobs are expected, the next one's checkout is made during this one.
        takeCheckout: () => --this.#checkoutsExpected > 0,
      });
    });
  }
}

interface ShellJobSettings {
  killGraceMs: number;
  runnerName: string;
  hostEnv: NodeJS.ProcessEnv;
  shell: () => HostShell | undefined;
  /** Counts this job's checkout; true when a spare checkout should be made for a later job. */
  takeCheckout: () => boolean;
}

/** One job's stages on this host: a leased build folder, the host shell, no container. */
class ShellJobStages implements JobStages {
  readonly #job: JobRun;
  readonly #settings: ShellJobSettings;
  #shell: HostShell | undefined;
  #lease: SlotLease | undefined;
  #paths: BuildPaths | undefined;
  #env: Record<string, string> = {};
  #marker = "";

  constructor(job: JobRun, settings: ShellJobSettings) {
    this.#job = job;
    this.#settings = settings;
  }

  get env(): Readonly<Record<string, string>> {
    return this.#env;
  }

  get hostProjectDir(): string {
    return this.#prepared().paths.projectDir;
  }

  async prepare(): Promise<void> {
    const { spec, ctx, trace } = this.#job;
    const shell = this.#settings.shell();
    trace.sectionStart("prepare_executor", 'Preparing the "shell" executor');
    if (shell === undefined) {
      trace.sectionEnd("prepare_executor");
      throw new Error("no bash or sh found on this host");
    }
    trace.println(`Using Shell (${shell.kind}) executor...`);
    trace.sectionEnd("prepare_executor");
    this.#shell = shell;

    const projectKey = projectKeyFor(spec, ctx.projectDir);
    const lease = await leaseSlots({
      stateDir: ctx.stateDir,
      projectKey,
      signal: this.#job.signal,
    });
    this.#lease = lease;
    markPhase(`${spec.job_info.name}: leased`);
    const paths = buildPathsFor({
      stateDir: ctx.stateDir,
      ...(ctx.buildsDir !== undefined && { buildsDir: ctx.buildsDir }),
      ...(ctx.runnerShortToken !== undefined && { runnerShortToken: ctx.runnerShortToken }),
      concurrentId: lease.concurrentId,
      projectKey,
      projectConcurrentId: lease.projectConcurrentId,
      projectPath: spec.job_info.project_full_path,
    });
    this.#paths = paths;
    const marker = randomUUID();
    this.#env = await trace.section("prepare_script", "Preparing environment", () =>
      this.#prepareEnvironment(paths, lease, marker),
    );
    this.#marker = `${MARKER_NAME}=${marker}`;
    markPhase(`${spec.job_info.name}: environment`);
    await this.#getSources(paths);
    markPhase(`${spec.job_info.name}: sources`);
  }

  #prepared(): { paths: BuildPaths; shell: HostShell } {
    if (this.#paths === undefined || this.#shell === undefined) {
      throw new Error("the shell executor's job was not prepared");
    }
    return { paths: this.#paths, shell: this.#shell };
  }

  /** Build folders, HOME and TMPDIR, and the job's environment. */
  async #prepareEnvironment(
    paths: BuildPaths,
    lease: SlotLease,
    marker: string,
  ): Promise<Record<string, string>> {
    const { spec, ctx, trace } = this.#job;
    const { runnerName, hostEnv } = this.#settings;
    trace.println(`Running on ${hostname()}...`);
    await removeAside(paths.tmpDir, trashDir(ctx.stateDir));
    mkdirSync(paths.homeDir, { recursive: true });
    mkdirSync(paths.tmpdirDir, { recursive: true });
    const base: Record<string, string> = {
      ...allowedHostEnv(hostEnv, [...DEFAULT_HOST_ENV_ALLOW_LIST, ...(ctx.hostEnvAllowList ?? [])]),
      HOME: paths.homeDir,
      TMPDIR: paths.tmpdirDir,
      CI_SERVER: "yes",
      CI_RUNNER_VERSION: pierVersion(),
      CI_RUNNER_REVISION: "",
      CI_RUNNER_DESCRIPTION: runnerName,
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

  async #getSources(paths: BuildPaths): Promise<void> {
    const job = this.#job;
    const plan = sourcePlanFor(job, this.#env);
    await writeGetSources(job, plan, async () => {
      const spare = this.#settings.takeCheckout();
      await prepareSources({
        ...(job.ctx.projectDir !== undefined && { repoDir: job.ctx.projectDir }),
        ...(spare && { spareDir: spareCheckoutsRoot(job.ctx.stateDir) }),
        gitInfo: job.spec.git_info,
        strategy: plan.strategy,
        depth: plan.depth,
        target: paths.projectDir,
        includeWorkingTreeChanges: plan.includeChanges,
        signal: job.signal,
      });
    });
  }

  runStep(step: "script" | "after_script", options: StepOptions): Promise<StepOutcome> {
    const { paths, shell } = this.#prepared();
    const name = step === "script" ? "step_script" : "after_script";
    const commands = this.#job.spec.steps.find((s) => s.name === step)?.script ?? [];
    const scriptPath = join(paths.tmpDir, `${name}.sh`);
    const debugTrace = this.#env["CI_DEBUG_TRACE"] === "true";
    writeFileSync(
      scriptPath,
      stepScript({
        shell: shell.kind,
        commands,
        ...(step === "after_script" && { notice: "Running after script..." }),
        debugTrace,
      }),
      { mode: 0o700 },
    );
    const env =
      options.jobStatus === undefined
        ? this.#env
        : { ...this.#env, CI_JOB_STATUS: options.jobStatus };
    const { hardKill } = this.#job.ctx;
    return runStep({
      shellPath: shell.path,
      scriptPath,
      cwd: paths.projectDir,
      env,
      marker: this.#marker,
      trace: this.#job.trace,
      timeoutMs: options.timeoutMs,
      ...(options.cancel !== undefined && { cancel: options.cancel }),
      ...(hardKill !== undefined && { hardKill }),
      killGraceMs: this.#settings.killGraceMs,
    });
  }

  filesForUpload(): Promise<string | undefined> {
    return Promise.resolve(this.#prepared().paths.projectDir);
  }

  /** The folders are moved aside at once and deleted in the background (see removeAside). */
  async teardown(): Promise<void> {
    const { spec, ctx, trace } = this.#job;
    const paths = this.#paths;
    if (paths !== undefined) {
      await writeCleanup(trace, async () => {
        const trash = trashDir(ctx.stateDir);
        await removeAside(paths.tmpDir, trash).catch(() => undefined);
        await removeAside(paths.projectDir, trash).catch(() => undefined);
      });
    }
    markPhase(`${spec.job_info.name}: cleaned`);
    if (this.#lease !== undefined) await this.#lease.release().catch(() => undefined);
    markPhase(`${spec.job_info.name}: released`);
  }
}

/**
 * Where finished build folders wait for their background deletion: inside builds/, so a
 * rename gets them there, and `pier gc` removes what a killed pier left (no slot lock names it).
 */
function trashDir(stateDir: string): string {
  return join(buildsRoot(stateDir), ".removing");
}
