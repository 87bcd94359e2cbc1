import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Executor } from "../executors/executor.ts";
import type { RunnerConfig, RunnerEntry } from "./config-toml.ts";
import { executorFactory } from "./executor-registry.ts";
import { backoffDelayMs, GitLabClient, type GitLabClientOptions } from "./gitlab-client.ts";
import { runRunnerJob, type RunnerJobOutcome } from "./run-job.ts";
import { requestJob, type JobPayload, type RunnerInfo } from "./runner-api.ts";
import { runnerInfo } from "./runner-info.ts";
import type { RunnerLog } from "./runner-log.ts";
import { shortToken } from "./short-token.ts";

export interface RunnerServiceOptions {
  config: RunnerConfig;
  configFile: string;
  systemId: string;
  stateDir: string;
  log: RunnerLog;
  /** Overrides `check_interval` (tests). */
  checkIntervalMs?: number;
  traceUpdateIntervalMs?: number;
  forceSendIntervalMs?: number;
  client?: Omit<GitLabClientOptions, "url">;
  /** Called when a job ends and GitLab has (or could not be given) its final state. */
  onJobFinished?: (job: JobPayload, outcome: RunnerJobOutcome) => void;
}

interface Worker {
  entry: RunnerEntry;
  index: number;
  client: GitLabClient;
  executor: Executor;
  info: RunnerInfo;
  /** Requests in flight plus jobs running for this entry. */
  used: number;
  lastUpdate?: string;
  failures: number;
}

const DEFAULT_CHECK_INTERVAL_MS = 3000;

/**
 * `pier runner run`: asks GitLab for jobs for every `[[runners]]` entry and runs them, never
 * more than `concurrent` at once overall, `limit` per entry, with `request_concurrency`
 * requests in flight per entry. A slot is taken before asking, so a job GitLab hands out
 * always has room to run.
 */
export class RunnerService {
  readonly #o: RunnerServiceOptions;
  readonly #workers: Worker[] = [];
  /** Aborted to stop asking for jobs (both shutdowns). */
  readonly #stopRequesting = new AbortController();
  /** Aborted on forceful shutdown: in-flight requests and running jobs. */
  readonly #force = new AbortController();
  readonly #running = new Set<Promise<void>>();
  readonly #pollers: Promise<void>[] = [];
  #slotWaiters: (() => void)[] = [];
  #used = 0;
  #started = false;

  constructor(options: RunnerServiceOptions) {
    this.#o = options;
  }

  get concurrent(): number {
    return Math.max(1, this.#o.config.global.concurrent ?? 1);
  }

  /** Jobs running now. */
  get runningJobs(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { config, configFile } = this.#o;
    for (const [index, entry] of config.runners.entries()) {
      const where = `${configFile}: [[runners]] "${entry.name}"`;
      const factory = executorFactory(entry.executor, where);
      this.#workers.push({
        entry,
        index,
        client: new GitLabClient({ ...this.#o.client, url: entry.url }),
        executor: await factory.create(entry, configFile),
        info: runnerInfo(entry.executor, factory.features),
        used: 0,
        failures: 0,
      });
    }
    for (const worker of this.#workers) {
      const requests = Math.max(1, worker.entry.requestConcurrency ?? 1);
      for (let i = 0; i < requests; i += 1) this.#pollers.push(this.#poll(worker));
      this.#o.log.info("runner started", {
        runner: shortToken(worker.entry.token),
        name: worker.entry.name,
        executor: worker.entry.executor,
      });
    }
  }

  /** SIGQUIT: stop asking for jobs, let running ones (and any job already handed out) finish. */
  async stopGracefully(): Promise<void> {
    this.#stopRequesting.abort();
    this.#wakeSlotWaiters();
    await Promise.all(this.#pollers);
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  /**
   * SIGTERM/SIGINT: stop asking, abort running jobs and report them failed
   * (runner_system_failure); resolves when they are reported or after `timeoutMs`.
   */
  async stopForcefully(timeoutMs: number): Promise<boolean> {
    this.#stopRequesting.abort();
    this.#force.abort();
    this.#wakeSlotWaiters();
    const all = (async () => {
      await Promise.all(this.#pollers);
      while (this.#running.size > 0) await Promise.all([...this.#running]);
    })();
    const timer = sleep(timeoutMs, false, { ref: false });
    return Promise.race([all.then(() => true), timer]);
  }

  async #poll(worker: Worker): Promise<void> {
    const stop = this.#stopRequesting.signal;
    while (!stop.aborted) {
      if (!(await this.#takeSlot(worker))) return;
      let result;
      try {
        result = await requestJob(worker.client, {
          token: worker.entry.token,
          systemId: this.#o.systemId,
          info: worker.info,
          ...(worker.lastUpdate !== undefined && { lastUpdate: worker.lastUpdate }),
          // Graceful stop lets a request in flight finish: it may carry a job GitLab gave us.
          signal: this.#force.signal,
        });
      } catch {
        this.#releaseSlot(worker);
        return;
      }
      if (result.kind === "job") {
        worker.failures = 0;
        this.#startJob(worker, result.job);
        continue;
      }
      this.#releaseSlot(worker);
      let waitMs = this.#checkIntervalMs();
      if (result.kind === "none") {
        worker.failures = 0;
        if (result.lastUpdate !== undefined) worker.lastUpdate = result.lastUpdate;
      } else {
        worker.failures += 1;
        waitMs =
          result.kind === "retry" && result.delayMs !== undefined
            ? result.delayMs
            : Math.max(waitMs, backoffDelayMs(worker.failures, 1000, 60_000));
        const level = result.kind === "forbidden" ? "error" : "warn";
        this.#o.log[level](
          result.kind === "forbidden"
            ? "GitLab refused the runner token"
            : "job request failed; retrying",
          { runner: shortToken(worker.entry.token), status: result.status, retry_in_ms: waitMs },
        );
      }
      await sleep(waitMs, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  #startJob(worker: Worker, job: JobPayload): void {
    const log = this.#o.log;
    const runner = shortToken(worker.entry.token);
    log.info("job received", { runner, job: job.id, name: job.job_info?.name });
    const run = (async () => {
      try {
        const outcome = await runRunnerJob({
          client: worker.client,
          entry: worker.entry,
          systemId: this.#o.systemId,
          job,
          executor: worker.executor,
          stateDir: this.#o.stateDir,
          logFile: join(this.#o.stateDir, "runner", runner, "jobs", `${job.id}.log`),
          shutdown: this.#force.signal,
          ...(this.#o.traceUpdateIntervalMs !== undefined && {
            traceUpdateIntervalMs: this.#o.traceUpdateIntervalMs,
          }),
          ...(this.#o.forceSendIntervalMs !== undefined && {
            forceSendIntervalMs: this.#o.forceSendIntervalMs,
          }),
        });
        log.info("job finished", {
          runner,
          job: job.id,
          reported: outcome.reported,
          failure_reason: outcome.update?.failureReason,
          duration_ms: outcome.result.durationMs,
        });
        this.#o.onJobFinished?.(job, outcome);
      } catch (error) {
        log.error("job crashed", { runner, job: job.id, error: String(error) });
      } finally {
        this.#releaseSlot(worker);
      }
    })();
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  #checkIntervalMs(): number {
    if (this.#o.checkIntervalMs !== undefined) return this.#o.checkIntervalMs;
    const seconds = this.#o.config.global.checkInterval ?? 0;
    return seconds > 0 ? seconds * 1000 : DEFAULT_CHECK_INTERVAL_MS;
  }

  /** Waits for room under `concurrent` and the entry's `limit`; false when stopping. */
  async #takeSlot(worker: Worker): Promise<boolean> {
    const limit = worker.entry.limit ?? 0;
    for (;;) {
      if (this.#stopRequesting.signal.aborted) return false;
      if (this.#used < this.concurrent && (limit <= 0 || worker.used < limit)) {
        this.#used += 1;
        worker.used += 1;
        return true;
      }
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
  }

  #releaseSlot(worker: Worker): void {
    this.#used -= 1;
    worker.used -= 1;
    this.#wakeSlotWaiters();
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const wake of waiters) wake();
  }
}
