import { isDeepStrictEqual } from "node:util";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Executor } from "../executors/executor.ts";
import { ownerLabelValue } from "../gc/owner-labels.ts";
import { currentProcess } from "../storage/process-identity.ts";
import type { RunnerConfig, RunnerEntry } from "./config-toml.ts";
import { executorFactory } from "./executor-registry.ts";
import { backoffDelayMs, GitLabClient, type GitLabClientOptions } from "./gitlab-client.ts";
import { tlsFilesOf, useGitLabTlsForGit } from "./gitlab-tls.ts";
import { JobJournal, type JournalEntry } from "./journal.ts";
import { endpointOf, type RunnerMetrics } from "./metrics.ts";
import { outputLimitBytesFor, runRunnerJob, type RunnerJobOutcome } from "./run-job.ts";
import { requestJob, type JobPayload, type RunnerInfo } from "./runner-api.ts";
import { runnerInfo } from "./runner-info.ts";
import type { RunnerLog } from "./runner-log.ts";
import { shortToken } from "./short-token.ts";
import { resetRunnerToken, saveRotatedToken, tokenRotationDue } from "./token-rotation.ts";

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
  metrics?: RunnerMetrics;
  /** Called when a job ends and GitLab has (or could not be given) its final state. */
  onJobFinished?: (job: JobPayload, outcome: RunnerJobOutcome) => void;
}

interface Worker {
  entry: RunnerEntry;
  client: GitLabClient;
  executor: Executor;
  info: RunnerInfo;
  /** Requests in flight plus jobs running for this entry. */
  used: number;
  lastUpdate?: string;
  failures: number;
  /** Poll loops running for this entry. */
  pollers: number;
  /** Aborted when the entry leaves config.toml or the service stops asking. */
  stop: AbortController;
  rotation?: NodeJS.Timeout;
}

interface RunningJob {
  job: JobPayload;
  runner: string;
  startedAt: number;
}

const DEFAULT_CHECK_INTERVAL_MS = 3000;
const ROTATION_RETRY_MS = 60_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `pier runner run`: asks GitLab for jobs for every `[[runners]]` entry and runs them, never
 * more than `concurrent` at once overall, `limit` per entry, with `request_concurrency`
 * requests in flight per entry. A slot is taken before asking, so a job GitLab hands out
 * always has room to run. Every job is in the crash journal while it runs. A reloaded
 * configuration applies at once: new entries start asking, removed ones stop (their jobs
 * finish), limits change. Runner tokens are rotated before they expire.
 */
export class RunnerService {
  readonly #o: RunnerServiceOptions;
  #config: RunnerConfig;
  readonly #workers: Worker[] = [];
  readonly #journal: JobJournal;
  #stopping = false;
  /** Aborted on forceful shutdown: in-flight requests and running jobs. */
  readonly #force = new AbortController();
  readonly #running = new Set<Promise<void>>();
  readonly #pollers = new Set<Promise<void>>();
  readonly #jobs = new Map<number, RunningJob>();
  #slotWaiters: (() => void)[] = [];
  #used = 0;
  #started = false;

  constructor(options: RunnerServiceOptions) {
    this.#o = options;
    this.#config = options.config;
    this.#journal = new JobJournal(options.stateDir);
  }

  get concurrent(): number {
    return Math.max(1, this.#config.global.concurrent ?? 1);
  }

  /** Jobs running now. */
  get runningJobs(): number {
    return this.#running.size;
  }

  /** gitlab-runner's `/debug/jobs/list`: one line per running job. */
  jobsList(): string {
    const now = Date.now();
    return [...this.#jobs.values()]
      .map(({ job, runner, startedAt }) => {
        const url = job.variables.find((variable) => variable.key === "CI_JOB_URL")?.value;
        const seconds = ((now - startedAt) / 1000).toFixed(1);
        return `url=${url ?? `job/${String(job.id)}`} state=running runner=${runner} duration=${seconds}s\n`;
      })
      .join("");
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#o.metrics?.setConcurrent(this.concurrent);
    for (const entry of this.#config.runners) await this.#addWorker(entry, true);
  }

  /**
   * A reloaded config.toml: globals take effect, entries are matched by token. An entry whose
   * executor cannot be set up is reported and left out; the rest still applies.
   */
  async applyConfig(config: RunnerConfig): Promise<void> {
    if (this.#stopping) return;
    this.#config = config;
    this.#o.metrics?.setConcurrent(this.concurrent);
    const byToken = new Map(config.runners.map((entry) => [entry.token, entry]));
    for (const worker of [...this.#workers]) {
      const entry = byToken.get(worker.entry.token);
      byToken.delete(worker.entry.token);
      if (entry === undefined) {
        this.#removeWorker(worker);
        continue;
      }
      await this.#updateWorker(worker, entry);
    }
    for (const entry of byToken.values()) await this.#addWorker(entry);
    this.#wakeSlotWaiters();
  }

  /** SIGQUIT: stop asking for jobs, let running ones (and any job already handed out) finish. */
  async stopGracefully(): Promise<void> {
    this.#stopAsking();
    await this.#drain();
  }

  /**
   * SIGTERM/SIGINT: stop asking, abort running jobs and report them failed
   * (runner_system_failure); resolves when they are reported or after `timeoutMs`.
   */
  async stopForcefully(timeoutMs: number): Promise<boolean> {
    this.#stopAsking();
    this.#force.abort();
    const timer = sleep(timeoutMs, false, { ref: false });
    return Promise.race([this.#drain().then(() => true), timer]);
  }

  #stopAsking(): void {
    this.#stopping = true;
    for (const worker of this.#workers) {
      worker.stop.abort();
      clearTimeout(worker.rotation);
    }
    this.#wakeSlotWaiters();
  }

  async #drain(): Promise<void> {
    while (this.#pollers.size > 0) await Promise.all([...this.#pollers]);
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #labels(worker: Worker): Record<string, string> {
    return { runner: shortToken(worker.entry.token), system_id: this.#o.systemId };
  }

  #client(entry: RunnerEntry, worker: () => Worker | undefined): GitLabClient {
    const metrics = this.#o.metrics;
    const client = new GitLabClient({
      ...this.#o.client,
      url: entry.url,
      tls: tlsFilesOf(entry),
      ...(metrics !== undefined && {
        onResponse: (method: string, path: string, status: number) => {
          const current = worker();
          if (current !== undefined) {
            metrics.apiRequest(this.#labels(current), endpointOf(method, path), status);
          }
        },
      }),
    });
    // After the client: files it refuses do not reach git either.
    useGitLabTlsForGit(entry);
    return client;
  }

  /** `strict` (at start): an entry that cannot be set up is an error, not a log line. */
  async #addWorker(entry: RunnerEntry, strict = false): Promise<void> {
    const where = `${this.#o.configFile}: [[runners]] "${entry.name}"`;
    let worker: Worker | undefined;
    try {
      const factory = executorFactory(entry.executor, where);
      worker = {
        entry,
        client: this.#client(entry, () => worker),
        executor: await factory.create(entry, this.#o.configFile),
        info: runnerInfo(entry.executor, factory.features),
        used: 0,
        failures: 0,
        pollers: 0,
        stop: new AbortController(),
      };
    } catch (error) {
      if (strict) throw error;
      this.#o.log.error("runner left out of the reloaded configuration", {
        name: entry.name,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    this.#workers.push(worker);
    this.#spawnPollers(worker);
    this.#scheduleRotation(worker);
    this.#o.metrics?.setLimit(this.#labels(worker), entry.limit ?? 0);
    this.#o.log.info("runner started", {
      runner: shortToken(entry.token),
      name: entry.name,
      executor: entry.executor,
    });
  }

  async #updateWorker(worker: Worker, entry: RunnerEntry): Promise<void> {
    const before = worker.entry;
    if (isDeepStrictEqual(before, entry)) return;
    if (before.executor !== entry.executor || !isDeepStrictEqual(before.docker, entry.docker)) {
      try {
        const factory = executorFactory(entry.executor, `${this.#o.configFile}: [[runners]]`);
        worker.executor = await factory.create(entry, this.#o.configFile);
        worker.info = runnerInfo(entry.executor, factory.features);
      } catch (error) {
        this.#o.log.error("runner keeps its previous executor: the new one cannot be set up", {
          runner: shortToken(entry.token),
          error: error instanceof Error ? error.message : String(error),
        });
        const { docker: _ignored, ...rest } = entry;
        entry = {
          ...rest,
          executor: before.executor,
          ...(before.docker !== undefined && { docker: before.docker }),
        };
      }
    }
    if (before.url !== entry.url || !isDeepStrictEqual(tlsFilesOf(before), tlsFilesOf(entry))) {
      entry = this.#reconnect(worker, before, entry);
    }
    worker.entry = entry;
    this.#o.metrics?.setLimit(this.#labels(worker), entry.limit ?? 0);
    this.#spawnPollers(worker);
    this.#scheduleRotation(worker);
    this.#o.log.info("runner settings reloaded", { runner: shortToken(entry.token) });
  }

  /**
   * A new client for a changed `url` or `tls-*-file` (running jobs keep the one they started
   * with). Files that cannot be read leave the previous connection settings in place.
   */
  #reconnect(worker: Worker, before: RunnerEntry, entry: RunnerEntry): RunnerEntry {
    try {
      worker.client = this.#client(entry, () => worker);
      return entry;
    } catch (error) {
      this.#o.log.error("runner keeps its previous GitLab URL and TLS files: the new ones fail", {
        runner: shortToken(entry.token),
        error: error instanceof Error ? error.message : String(error),
      });
      const { tlsCaFile: _ca, tlsCertFile: _cert, tlsKeyFile: _key, ...rest } = entry;
      return {
        ...rest,
        url: before.url,
        ...(before.tlsCaFile !== undefined && { tlsCaFile: before.tlsCaFile }),
        ...(before.tlsCertFile !== undefined && { tlsCertFile: before.tlsCertFile }),
        ...(before.tlsKeyFile !== undefined && { tlsKeyFile: before.tlsKeyFile }),
      };
    }
  }

  #removeWorker(worker: Worker): void {
    worker.stop.abort();
    clearTimeout(worker.rotation);
    this.#workers.splice(this.#workers.indexOf(worker), 1);
    this.#o.metrics?.forgetRunner(this.#labels(worker));
    this.#wakeSlotWaiters();
    this.#o.log.info("runner removed from config.toml: asking no more; its running jobs finish", {
      runner: shortToken(worker.entry.token),
    });
  }

  #wantedPollers(worker: Worker): number {
    return Math.max(1, worker.entry.requestConcurrency ?? 1);
  }

  #spawnPollers(worker: Worker): void {
    while (!worker.stop.signal.aborted && worker.pollers < this.#wantedPollers(worker)) {
      const index = worker.pollers;
      worker.pollers += 1;
      const poller = this.#poll(worker, index).finally(() => {
        worker.pollers -= 1;
        this.#pollers.delete(poller);
      });
      this.#pollers.add(poller);
    }
  }

  async #poll(worker: Worker, index: number): Promise<void> {
    const stop = worker.stop.signal;
    let askedAgainAtOnce = false;
    while (!stop.aborted && index < this.#wantedPollers(worker)) {
      if (!(await this.#takeSlot(worker))) return;
      const token = worker.entry.token;
      const labels = this.#labels(worker);
      const sentLastUpdate = worker.lastUpdate;
      this.#o.metrics?.requestsInFlight(labels, 1);
      let result;
      try {
        result = await requestJob(worker.client, {
          token,
          systemId: this.#o.systemId,
          info: worker.info,
          ...(sentLastUpdate !== undefined && { lastUpdate: sentLastUpdate }),
          // Graceful stop lets a request in flight finish: it may carry a job GitLab gave us.
          signal: this.#force.signal,
        });
      } catch {
        this.#releaseSlot(worker);
        return;
      } finally {
        this.#o.metrics?.requestsInFlight(labels, -1);
      }
      if (result.kind === "job") {
        worker.failures = 0;
        askedAgainAtOnce = false;
        this.#startJob(worker, result.job);
        continue;
      }
      this.#releaseSlot(worker);
      // The token was rotated while this request was out: ask again with the new one.
      if (result.kind === "forbidden" && worker.entry.token !== token) continue;
      let waitMs = this.#checkIntervalMs();
      if (result.kind === "none") {
        worker.failures = 0;
        if (result.lastUpdate !== undefined) worker.lastUpdate = result.lastUpdate;
        // A 204 with a queue version we did not send means we were out of date (the first
        // request, or the queue moved while a job ran), so GitLab answered at once. Echoing the
        // new version is a request Workhorse holds (long polling) until a job comes: asking
        // again now starts that job when it is queued instead of up to check_interval later.
        // Once only: a server that does not hold answers the same version, and we wait.
        const outOfDate = result.lastUpdate !== undefined && result.lastUpdate !== sentLastUpdate;
        if (outOfDate && !askedAgainAtOnce) {
          askedAgainAtOnce = true;
          continue;
        }
        askedAgainAtOnce = false;
      } else {
        askedAgainAtOnce = false;
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
          { runner: shortToken(token), status: result.status, retry_in_ms: waitMs },
        );
      }
      await sleep(waitMs, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  #startJob(worker: Worker, job: JobPayload): void {
    const log = this.#o.log;
    const { entry } = worker;
    const runner = shortToken(entry.token);
    const labels = this.#labels(worker);
    log.info("job received", { runner, job: job.id, name: job.job_info?.name });
    const logFile = join(this.#o.stateDir, "runner", runner, "jobs", `${job.id}.log`);
    const journalEntry: JournalEntry = {
      jobId: job.id,
      jobToken: job.token,
      url: entry.url,
      tls: tlsFilesOf(entry),
      runner,
      systemId: this.#o.systemId,
      owner: currentProcess(),
      ...(entry.executor === "docker" && { dockerOwner: ownerLabelValue() }),
      logFile,
      outputLimitBytes: outputLimitBytesFor(entry),
      ...(job.features?.failure_reasons !== undefined && {
        failureReasons: job.features.failure_reasons,
      }),
      startedAt: new Date().toISOString(),
    };
    const startedAt = Date.now();
    this.#jobs.set(job.id, { job, runner, startedAt });
    this.#o.metrics?.jobStarted(labels);
    const run = (async () => {
      let failureReason: string | undefined;
      try {
        this.#journalRecord(journalEntry);
        const outcome = await runRunnerJob({
          client: worker.client,
          entry,
          systemId: this.#o.systemId,
          job,
          executor: worker.executor,
          stateDir: this.#o.stateDir,
          logFile,
          shutdown: this.#force.signal,
          ...(this.#o.traceUpdateIntervalMs !== undefined && {
            traceUpdateIntervalMs: this.#o.traceUpdateIntervalMs,
          }),
          ...(this.#o.forceSendIntervalMs !== undefined && {
            forceSendIntervalMs: this.#o.forceSendIntervalMs,
          }),
        });
        if (outcome.reported === "unreported" && outcome.update !== undefined) {
          // A restarted pier sends it: GitLab must not be left thinking the job runs.
          this.#journalRecord({ ...journalEntry, final: outcome.update });
        } else {
          this.#journal.remove(journalEntry);
        }
        failureReason =
          outcome.update?.state === "failed" ? outcome.update.failureReason : undefined;
        log.info("job finished", {
          runner,
          job: job.id,
          reported: outcome.reported,
          failure_reason: outcome.update?.failureReason,
          duration_ms: outcome.result.durationMs,
        });
        this.#o.onJobFinished?.(job, outcome);
      } catch (error) {
        failureReason = "runner_system_failure";
        log.error("job crashed", { runner, job: job.id, error: String(error) });
      } finally {
        this.#jobs.delete(job.id);
        this.#o.metrics?.jobFinished(labels, (Date.now() - startedAt) / 1000, failureReason);
        this.#releaseSlot(worker);
      }
    })();
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  #journalRecord(entry: JournalEntry): void {
    try {
      this.#journal.record(entry);
    } catch (error) {
      this.#o.log.warn("could not write the crash journal", {
        job: entry.jobId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  #scheduleRotation(worker: Worker): void {
    clearTimeout(worker.rotation);
    if (worker.stop.signal.aborted) return;
    if (worker.entry.featureFlags?.["FF_DISABLE_AUTOMATIC_TOKEN_ROTATION"] === true) return;
    const due = tokenRotationDue(worker.entry);
    if (due === undefined) return;
    const delay = Math.min(Math.max(0, due.getTime() - Date.now()), MAX_TIMER_MS);
    worker.rotation = setTimeout(() => void this.#rotate(worker, due), delay);
    worker.rotation.unref();
  }

  async #rotate(worker: Worker, due: Date): Promise<void> {
    if (worker.stop.signal.aborted) return;
    if (Date.now() < due.getTime()) return this.#scheduleRotation(worker);
    const old = worker.entry.token;
    const log = this.#o.log;
    try {
      const rotated = await resetRunnerToken(worker.client, old, worker.stop.signal);
      worker.entry = {
        ...worker.entry,
        token: rotated.token,
        tokenObtainedAt: rotated.obtainedAt,
        ...(rotated.expiresAt !== undefined
          ? { tokenExpiresAt: rotated.expiresAt }
          : { tokenExpiresAt: new Date("0001-01-01T00:00:00Z") }),
      };
      log.info("runner token rotated", {
        runner: shortToken(rotated.token),
        previous: shortToken(old),
        expires_at: rotated.expiresAt?.toISOString(),
      });
      try {
        saveRotatedToken(this.#o.configFile, old, rotated);
      } catch (error) {
        log.error("the rotated token could not be written to config.toml", {
          runner: shortToken(rotated.token),
          error: error instanceof Error ? error.message : String(error),
        });
      }
      this.#scheduleRotation(worker);
    } catch (error) {
      if (worker.stop.signal.aborted) return;
      log.error("runner token rotation failed; retrying in a minute", {
        runner: shortToken(old),
        error: error instanceof Error ? error.message : String(error),
      });
      clearTimeout(worker.rotation);
      worker.rotation = setTimeout(() => void this.#rotate(worker, due), ROTATION_RETRY_MS);
      worker.rotation.unref();
    }
  }

  #checkIntervalMs(): number {
    if (this.#o.checkIntervalMs !== undefined) return this.#o.checkIntervalMs;
    const seconds = this.#config.global.checkInterval ?? 0;
    return seconds > 0 ? seconds * 1000 : DEFAULT_CHECK_INTERVAL_MS;
  }

  /** Waits for room under `concurrent` and the entry's `limit`; false when it stops asking. */
  async #takeSlot(worker: Worker): Promise<boolean> {
    for (;;) {
      if (worker.stop.signal.aborted) return false;
      const limit = worker.entry.limit ?? 0;
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
