import { randomUUID } from "node:crypto";
import { lstatSync, mkdirSync, readdirSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import { pierVersion } from "../../cli/version.ts";
import type { JobSpec } from "../../job/spec.ts";
import {
  checkoutUnchanged,
  snapshotCheckout,
  type CheckoutSnapshot,
} from "../../storage/checkout-snapshot.ts";
import { leaseSlots, type SlotLease } from "../../storage/concurrency-slots.ts";
import { KeptBuilds } from "../../storage/kept-builds.ts";
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
  type SourcePlan,
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

/** What a finished job leaves for the next one of the run in the same slot (see KeptBuilds). */
interface KeptShellBuild {
  /** The tmp folder's metadata as made (see tmpFolderState), for a job to use it as it is. */
  tmp?: string;
  /** The checkout as it was made, and what it was made from. */
  checkout?: { sourceKey: string; snapshot: CheckoutSnapshot };
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
  readonly #kept: KeptBuilds<KeptShellBuild> | undefined;

  constructor(options: ShellExecutorOptions = {}) {
    this.#killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.#runnerName = options.runnerName ?? hostname();
    this.#hostEnv = options.hostEnv ?? process.env;
    this.#shell = options.shell;
    this.#checkoutsExpected = options.expectedJobs ?? 0;
    // Only while more jobs of this run are expected: runner mode gets no kept builds.
    this.#kept = this.#checkoutsExpected > 1 ? new KeptBuilds() : undefined;
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
        kept: this.#kept,
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
  /** Local mode with more jobs to come: builds kept from one job for the next. */
  kept: KeptBuilds<KeptShellBuild> | undefined;
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
  /** What the previous job in this slot left, when it was kept. */
  #previous: KeptShellBuild | undefined;
  #keptKey = "";
  #checkout: KeptShellBuild["checkout"];
  #tmp: string | undefined;

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
    this.#keptKey = JSON.stringify([
      ctx.stateDir,
      ctx.buildsDir,
      ctx.runnerShortToken,
      projectKey,
      spec.job_info.project_full_path,
    ]);
    const kept = this.#settings.kept?.take(this.#keptKey);
    this.#previous = kept?.state;
    const lease =
      kept?.lease ??
      (await leaseSlots({
        stateDir: ctx.stateDir,
        projectKey,
        signal: this.#job.signal,
      }));
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
    const previousTmp = this.#previous?.tmp;
    if (previousTmp !== undefined && tmpFolderState(paths) === previousTmp) {
      this.#tmp = previousTmp;
    } else {
      await removeAside(paths.tmpDir, trashDir(ctx.stateDir));
      mkdirSync(paths.homeDir, { recursive: true });
      mkdirSync(paths.tmpdirDir, { recursive: true });
      // Before the file variables are written into it.
      if (this.#settings.kept !== undefined) this.#tmp = tmpFolderState(paths);
    }
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
    const sourceKey = this.#sourceKey(plan);
    const previous = this.#previous?.checkout;
    const reused =
      previous !== undefined &&
      previous.sourceKey === sourceKey &&
      checkoutUnchanged(paths.projectDir, previous.snapshot);
    await writeGetSources(job, plan, async () => {
      if (reused) return;
      // Whatever is there goes, even with no previous job in this run: a killed pier's kept
      // build, whose slot this run took over, must not reach the job (prepareSources would
      // fetch into an existing .git, and keeps the folder as it is with GIT_STRATEGY none).
      await removeAside(paths.projectDir, trashDir(job.ctx.stateDir));
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
    if (reused) {
      this.#checkout = previous;
    } else if (this.#settings.kept !== undefined && sourceKey !== undefined) {
      const snapshot = snapshotCheckout(paths.projectDir);
      if (snapshot !== undefined) this.#checkout = { sourceKey, snapshot };
    }
  }

  /**
   * Everything a checkout is made from; undefined when it is not made from the job's commit
   * alone (GIT_STRATEGY none and empty keep or empty a folder).
   */
  #sourceKey(plan: SourcePlan): string | undefined {
    if (plan.strategy !== "clone" && plan.strategy !== "fetch") return undefined;
    const gitVariables = Object.entries(this.#env)
      .filter(([name]) => name.startsWith("GIT_"))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return JSON.stringify([this.#job.ctx.projectDir, this.#job.spec.git_info, plan, gitVariables]);
  }

  runStep(step: "script" | "after_script", options: StepOptions): Promise<StepOutcome> {
    const { paths, shell } = this.#prepared();
    const name = step === "script" ? "step_script" : "after_script";
    const commands = this.#job.spec.steps.find((s) => s.name === step)?.script ?? [];
    const debugTrace = this.#env["CI_DEBUG_TRACE"] === "true";
    const script = stepScript({
      shell: shell.kind,
      commands,
      ...(step === "after_script" && { notice: "Running after script..." }),
      debugTrace,
    });
    // A file, not `-c`: the script must not show in the shell's command line (a job's
    // `pkill -f` or `ps | grep` would find its own shell).
    const scriptPath = join(paths.tmpDir, `${name}.sh`);
    writeFileSync(scriptPath, script, { mode: 0o700 });
    const env =
      options.jobStatus === undefined
        ? this.#env
        : { ...this.#env, CI_JOB_STATUS: options.jobStatus };
    const { hardKill } = this.#job.ctx;
    const running = runStep({
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
    // A kept tmp folder must hold nothing but HOME and TMPDIR (see tmpFolderState).
    if (this.#settings.kept === undefined) return running;
    return running.finally(() => {
      try {
        unlinkSync(scriptPath);
      } catch {
        // Gone already: the tmp folder is then checked and made again.
      }
    });
  }

  filesForUpload(): Promise<string | undefined> {
    return Promise.resolve(this.#prepared().paths.projectDir);
  }

  /**
   * The folders are moved aside at once and deleted in the background (see removeAside); or,
   * while more jobs of the run are expected, kept with the slot for the next one.
   */
  async teardown(): Promise<void> {
    const { spec, ctx, trace } = this.#job;
    const paths = this.#paths;
    const lease = this.#lease;
    const kept = this.#settings.kept;
    this.#lease = undefined;
    if (paths !== undefined) {
      await writeCleanup(trace, async () => {
        const trash = trashDir(ctx.stateDir);
        if (kept !== undefined && lease !== undefined) {
          // File variables, HOME's files: gone now, as without keeping; and so is a checkout
          // no later job can use (too big to compare, or not made from the commit alone).
          const tmp = this.#tmp !== undefined && tmpFolderState(paths) === this.#tmp;
          if (!tmp) await removeAside(paths.tmpDir, trash).catch(() => undefined);
          if (this.#checkout === undefined) {
            await removeAside(paths.projectDir, trash).catch(() => undefined);
          }
          kept.keep(this.#keptKey, {
            lease,
            folders: [paths.tmpDir, paths.projectDir],
            trashDir: trash,
            state: {
              ...(tmp && this.#tmp !== undefined && { tmp: this.#tmp }),
              ...(this.#checkout !== undefined && { checkout: this.#checkout }),
            },
          });
        } else {
          await removeAside(paths.tmpDir, trash).catch(() => undefined);
          await removeAside(paths.projectDir, trash).catch(() => undefined);
        }
      });
    }
    markPhase(`${spec.job_info.name}: cleaned`);
    if (lease !== undefined && (kept === undefined || paths === undefined)) {
      await lease.release().catch(() => undefined);
    }
    markPhase(`${spec.job_info.name}: released`);
  }
}

/**
 * The tmp folder's state when it holds only HOME and TMPDIR, both empty: the modes and owners
 * of the three folders. Undefined for anything else (file variables, a script file, HOME with
 * files in it), which a later job must not see.
 */
function tmpFolderState(paths: BuildPaths): string | undefined {
  try {
    const names = readdirSync(paths.tmpDir).sort();
    const homeName = relative(paths.tmpDir, paths.homeDir);
    const tmpdirName = relative(paths.tmpDir, paths.tmpdirDir);
    if (names.join("/") !== [homeName, tmpdirName].sort().join("/")) return undefined;
    if (readdirSync(paths.homeDir).length > 0 || readdirSync(paths.tmpdirDir).length > 0) {
      return undefined;
    }
    return [paths.tmpDir, paths.homeDir, paths.tmpdirDir]
      .map((dir) => {
        // lstat: a folder a job swapped for a symbolic link is not the folder that was made.
        const stats = lstatSync(dir);
        if (!stats.isDirectory()) throw new Error(`${dir} is no longer a folder`);
        return [stats.mode, stats.uid, stats.gid, stats.ino].map(String).join(" ");
      })
      .join(" | ");
  } catch {
    return undefined;
  }
}

/**
 * Where finished build folders wait for their background deletion: inside builds/, so a
 * rename gets them there, and `pier gc` removes what a killed pier left (no slot lock names it).
 */
function trashDir(stateDir: string): string {
  return join(buildsRoot(stateDir), ".removing");
}
