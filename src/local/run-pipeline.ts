import { randomBytes } from "node:crypto";
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Executor } from "../executors/executor.ts";
import { jobSpecFromPlan, type ProjectVariable } from "../job/from-plan.ts";
import type { JobDependency } from "../job/spec.ts";
import type { Plan, PlannedJob } from "../pipeline/plan.ts";
import { jobArtifactsDir, localArtifactTransport } from "../storage/artifacts.ts";
import { cacheDirFor, cacheKeyFromFiles } from "../storage/cache.ts";
import { runDir as runDirOf } from "../storage/state-dir.ts";
import { maskPhrases } from "../trace/mask-phrases.ts";
import { markPhase } from "../trace/phase-timing.ts";
import { TraceWriter } from "../trace/trace-writer.ts";
import { artifactSources } from "./job-dependencies.ts";
import type { JobStatus } from "./job-status.ts";
import { schedulePipeline, type AttemptResult, type PipelineStatus } from "./scheduler.ts";
import { selectJobs } from "./select-jobs.ts";

export interface RunListener {
  onJobStatus?(job: PlannedJob, status: JobStatus, attempt: number): void;
  /** Masked log bytes of a job, in order. */
  onJobOutput?(job: PlannedJob, chunk: Buffer): void;
  onWarning?(message: string): void;
}

export interface LocalRunOptions {
  repoDir: string;
  /** Unique on this machine (see allocatePipelineId); the plan was made with it. */
  pipelineId: number;
  plan: Plan;
  executor: Executor;
  concurrency: number;
  /** Manual jobs to play. */
  play: ReadonlySet<string>;
  /** Run only these jobs and what they need; empty: the whole pipeline. */
  jobNames: readonly string[];
  stateDir: string;
  projectVariables: readonly ProjectVariable[];
  pipelineVariables: Record<string, string>;
  /** Abort: cancel the pipeline (running jobs get their after_script). */
  cancel: AbortSignal;
  /** Abort: kill running jobs at once. */
  hardKill: AbortSignal;
  defaultTimeoutSeconds?: number;
  listener?: RunListener;
}

export interface JobRunRecord {
  name: string;
  stage: string;
  status: JobStatus;
  exitCode?: number;
  durationMs: number;
  allowFailure: boolean;
  failureReason?: string;
  attempts: number;
  logFile?: string;
}

export interface LocalRunResult {
  pipelineId: number;
  status: PipelineStatus;
  runDir: string;
  durationMs: number;
  jobs: JobRunRecord[];
}

interface FinishedAttempt {
  jobId: number;
  token: string;
  dotenv: Record<string, string>;
  /** Size of the job's artifacts archive, when it made one. */
  archiveSize?: number;
}

/** Runs a planned pipeline on this machine: the local coordinator. */
export async function runPipelineLocally(options: LocalRunOptions): Promise<LocalRunResult> {
  const started = performance.now();
  const { plan, listener } = options;
  const pipelineId = options.pipelineId;
  const runDir = runDirOf(options.stateDir, pipelineId);
  mkdirSync(runDir, { recursive: true });
  const projectKey =
    plan.variables.find((v) => v.key === "CI_PROJECT_PATH_SLUG")?.value ?? "project";
  const cacheDir = cacheDirFor(options.stateDir, projectKey);
  const artifacts = localArtifactTransport({ runDir });

  const runnable = selectJobs(plan.jobs, options.jobNames).filter((job) => {
    if (job.trigger === undefined) return true;
    listener?.onWarning?.(
      `${job.name}: trigger jobs start downstream pipelines in GitLab; pier does not run them locally`,
    );
    return false;
  });
  const byName = new Map(runnable.map((job) => [job.name, job]));
  const play = new Set(options.play);
  for (const name of options.jobNames) {
    for (const job of runnable) if (job.name === name || job.baseName === name) play.add(job.name);
  }

  const finished = new Map<string, FinishedAttempt>();
  const logFiles = new Map<string, string>();
  let nextJobId = 1;

  const runAttempt = async (
    job: PlannedJob,
    _attempt: number,
    signal: AbortSignal,
  ): Promise<AttemptResult> => {
    markPhase(`${job.name}: attempt`);
    const jobId = nextJobId++;
    const token = `pier-${randomBytes(12).toString("hex")}`;
    const dependencies: JobDependency[] = [];
    const dotenv: Record<string, string> = {};
    for (const name of artifactSources(job, runnable)) {
      const source = finished.get(name);
      if (source === undefined) continue;
      dependencies.push({
        id: source.jobId,
        name,
        token: source.token,
        ...(source.archiveSize === undefined
          ? {}
          : { artifacts_file: { filename: "artifacts.zip", size: source.archiveSize } }),
      });
      Object.assign(dotenv, source.dotenv);
    }
    const cache = await Promise.all(
      job.cache.map(async (entry) =>
        entry.keyFiles === undefined
          ? entry
          : {
              ...entry,
              key: await cacheKeyFromFiles(options.repoDir, entry.keyFiles, entry.keyPrefix),
            },
      ),
    );
    const spec = jobSpecFromPlan({
      plan,
      job: { ...job, cache },
      pipelineId,
      jobId,
      token,
      dependencies,
      dotenv,
      projectVariables: options.projectVariables,
      pipelineVariables: options.pipelineVariables,
      defaultTimeoutSeconds: options.defaultTimeoutSeconds ?? 3600,
    });
    const logFile = join(
      runDir,
      "logs",
      `${String(jobId).padStart(3, "0")}-${fileSafe(job.name)}.log`,
    );
    logFiles.set(job.name, logFile);
    const trace = new TraceWriter({
      maskPhrases: maskPhrases(spec.variables),
      logFile,
      onData: (chunk) => listener?.onJobOutput?.(job, chunk),
    });
    try {
      const result = await options.executor.run(spec, {
        trace,
        signal,
        hardKill: options.hardKill,
        projectDir: options.repoDir,
        stateDir: options.stateDir,
        artifacts,
        cacheDir,
      });
      if (result.status === "success" || result.status === "failed") {
        const archive = statSync(join(jobArtifactsDir(runDir, jobId), "archive.zip"), {
          throwIfNoEntry: false,
        });
        finished.set(job.name, {
          jobId,
          token,
          dotenv: result.dotenv ?? {},
          ...(archive === undefined ? {} : { archiveSize: archive.size }),
        });
      }
      return {
        status: result.status,
        ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }),
        ...(result.failureReason === undefined ? {} : { failureReason: result.failureReason }),
      };
    } finally {
      await trace.close().catch(() => undefined);
      markPhase(`${job.name}: trace closed`);
    }
  };

  const result = await schedulePipeline({
    jobs: runnable,
    concurrency: Math.max(1, options.concurrency),
    play,
    cancel: options.cancel,
    runAttempt,
    onEvent: (event) => {
      if (event.type !== "status") return;
      const job = byName.get(event.job);
      if (job !== undefined) listener?.onJobStatus?.(job, event.status, event.attempt);
    },
  });

  const jobs: JobRunRecord[] = runnable.map((job) => {
    const outcome = result.jobs.get(job.name);
    const logFile = logFiles.get(job.name);
    return {
      name: job.name,
      stage: job.stage,
      status: outcome?.status ?? "created",
      ...(outcome?.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
      durationMs: outcome?.durationMs ?? 0,
      allowFailure: job.allowFailure !== false,
      ...(outcome?.failureReason === undefined ? {} : { failureReason: outcome.failureReason }),
      attempts: outcome?.attempts ?? 0,
      ...(logFile === undefined ? {} : { logFile }),
    };
  });
  return {
    pipelineId,
    status: result.status,
    runDir,
    durationMs: Math.round(performance.now() - started),
    jobs,
  };
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120);
}
