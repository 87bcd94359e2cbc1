import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { DockerClient } from "../docker/docker-client.ts";
import { killMarkedProcesses } from "../executors/shell/process-tree.ts";
import { sweepDeadOwners } from "../gc/dead-owner-sweep.ts";
import { OWNER_LABEL } from "../gc/owner-labels.ts";
import { sweepStateDir } from "../gc/state-sweep.ts";
import { currentProcess, isRunning } from "../storage/process-identity.ts";
import { ANSI_BOLD_RED, ANSI_RESET } from "../trace/ansi.ts";
import { failureReasonFor } from "./failure-reasons.ts";
import type { RunnerEntry } from "./config-toml.ts";
import { backoffDelayMs, GitLabClient, type GitLabClientOptions } from "./gitlab-client.ts";
import { tlsFilesOf, type GitLabTlsFiles } from "./gitlab-tls.ts";
import { JobJournal, type JournalEntry, type StoredEntry } from "./journal.ts";
import { sendFinalUpdate } from "./run-job.ts";
import type { JobUpdate } from "./runner-api.ts";
import type { RunnerLog } from "./runner-log.ts";
import { shortToken } from "./short-token.ts";
import { TraceUploader } from "./trace-uploader.ts";

export interface RecoveryOptions {
  stateDir: string;
  log: RunnerLog;
  /** Connects to the engine when a lost job made Docker objects; undefined: none to clean. */
  connectDocker?: () => Promise<DockerClient>;
  client?: Omit<GitLabClientOptions, "url" | "tls">;
  /**
   * config.toml's entries now: a lost job's runner found there (same token, same URL) is
   * reached with its current TLS files, else with those the journal kept.
   */
  runners?: readonly RunnerEntry[];
  /** SIGTERM → SIGKILL grace for processes a lost shell job left running. */
  killGraceMs?: number;
}

export interface RecoveredJob {
  jobId: number;
  runner: string;
  /** What GitLab now has: "failed" (or the outcome the dead pier knew), or "unreported". */
  reported: string;
  processesKilled: number;
  dockerObjectsRemoved: number;
}

/** Few: GitLab may be down for a while, the entry then waits for the next start. */
const SEND_ATTEMPTS = 3;

const LOST_MESSAGE =
  "Job failed (system failure): the pier runner process running this job died; a restarted pier reports it";

/**
 * Reports jobs a dead pier process had taken from GitLab, so they do not stay "running" there
 * until GitLab's stuck-job worker gives up hours later: the log saved on disk is sent (from
 * wherever GitLab's copy ends), then the final state, `runner_system_failure` unless the dead
 * pier already knew the outcome. Processes and Docker objects the job left are removed.
 * Entries of a live pier are left alone; an entry GitLab cannot be told about yet stays for
 * the next start.
 */
export async function recoverLostJobs(o: RecoveryOptions): Promise<RecoveredJob[]> {
  const journal = new JobJournal(o.stateDir);
  const me = currentProcess();
  const recovered: RecoveredJob[] = [];
  let docker: DockerClient | undefined;
  let dockerFailed = false;
  try {
    for (const stored of journal.list()) {
      if (await isRunning(stored.claimedBy ?? stored.entry.owner)) continue;
      const claimed = journal.claim(stored, me);
      if (claimed === undefined) continue;
      const { entry } = claimed;
      o.log.warn("recovering a job a dead pier process left", {
        runner: entry.runner,
        job: entry.jobId,
        owner_pid: entry.owner.pid,
      });
      // The job's processes carry its token in their environment, whatever group they lead.
      const processesKilled = await killMarkedProcesses(
        `CI_JOB_TOKEN=${entry.jobToken}`,
        o.killGraceMs ?? 2000,
      );
      let dockerObjectsRemoved = 0;
      if (entry.dockerOwner !== undefined && o.connectDocker !== undefined && !dockerFailed) {
        try {
          docker ??= await o.connectDocker();
          const actions = await sweepDeadOwners(docker, {
            labels: { [OWNER_LABEL]: entry.dockerOwner },
          });
          dockerObjectsRemoved = actions.filter((action) => action.error === undefined).length;
        } catch (error) {
          dockerFailed = true;
          o.log.error("could not clean the lost job's Docker objects (pier gc will)", {
            job: entry.jobId,
            error: error instanceof Error ? error.message : String(error),
          });
        }
      }
      const reported = await reportLostJob(claimed, o).catch((error: unknown) => {
        o.log.error("could not report a lost job", {
          job: entry.jobId,
          error: error instanceof Error ? error.message : String(error),
        });
        return "unreported";
      });
      if (reported === "unreported") {
        o.log.error("GitLab could not be told about a lost job; trying again at the next start", {
          runner: entry.runner,
          job: entry.jobId,
        });
        // Unclaim: back under its own name for the next start.
        journal.record(entry);
        journal.drop(claimed);
      } else {
        journal.drop(claimed);
        o.log.info("lost job reported", {
          runner: entry.runner,
          job: entry.jobId,
          state: reported,
        });
      }
      recovered.push({
        jobId: entry.jobId,
        runner: entry.runner,
        reported,
        processesKilled,
        dockerObjectsRemoved,
      });
    }
    // Slot locks and build folders of the dead owners.
    if (recovered.length > 0) await sweepStateDir(o.stateDir);
  } finally {
    docker?.close();
  }
  return recovered;
}

async function reportLostJob(stored: StoredEntry, o: RecoveryOptions): Promise<string> {
  const { entry } = stored;
  const client = new GitLabClient({ ...o.client, url: entry.url, tls: tlsFor(entry, o.runners) });
  try {
    return await sendLostJob(stored, client);
  } finally {
    client.close();
  }
}

function tlsFor(entry: JournalEntry, runners: RecoveryOptions["runners"]): GitLabTlsFiles {
  const current = runners?.find(
    (runner) => runner.url === entry.url && shortToken(runner.token) === entry.runner,
  );
  return current === undefined ? (entry.tls ?? {}) : tlsFilesOf(current);
}

async function sendLostJob(stored: StoredEntry, client: GitLabClient): Promise<string> {
  const { entry } = stored;
  const uploader = new TraceUploader({
    client,
    jobId: entry.jobId,
    jobToken: entry.jobToken,
    systemId: entry.systemId,
    outputLimitBytes: entry.outputLimitBytes,
    onJobStatus: () => undefined,
  });
  const saved = await readFile(entry.logFile).catch(() => Buffer.alloc(0));
  uploader.append(saved);
  if (entry.final === undefined) {
    const newline = saved.length > 0 && saved.at(-1) !== 0x0a ? "\n" : "";
    uploader.append(Buffer.from(`${newline}${ANSI_BOLD_RED}ERROR: ${LOST_MESSAGE}${ANSI_RESET}\n`));
  }
  // GitLab answers 416 with what it has: only the missing tail is sent.
  for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt += 1) {
    await uploader.flush();
    if (uploader.sentBytes >= uploader.bytesize || uploader.closedByServer) break;
    await sleep(backoffDelayMs(attempt, 500, 5000));
  }
  if (uploader.closedByServer) return "aborted";
  const update: JobUpdate = {
    ...(entry.final ?? lostUpdate(entry)),
    checksum: uploader.checksum,
    bytesize: uploader.bytesize,
  };
  const answer = await sendFinalUpdate(
    { client, jobId: entry.jobId, jobToken: entry.jobToken, systemId: entry.systemId, attempts: 3 },
    uploader,
    update,
  );
  return answer === "accepted" ? update.state : answer === "refused" ? "aborted" : "unreported";
}

function lostUpdate(entry: JournalEntry): JobUpdate {
  return {
    state: "failed",
    failureReason: failureReasonFor("runner_system_failure", entry.failureReasons),
  };
}
