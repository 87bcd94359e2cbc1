import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { isPidAlive } from "../../storage/process-identity.ts";

const POLL_MS = 20;
/** Up to this many pids handed out during a step are probed one by one (see findMarkedProcesses). */
const DIRECT_PROBE_LIMIT = 64;

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    // ESRCH: nobody left in the group.
    return false;
  }
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/** Fields of /proc/<pid>/stat after the command name: state is [0], pgrp is [2]. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/**
 * True while a live (not zombie) process is in the group. Zombies are left out: they are dead
 * already and only wait for whoever adopted them to reap them.
 */
function groupAlive(pgid: number): boolean {
  const pids = numericEntries("/proc");
  if (pids.length === 0) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat !== undefined && stat[2] === String(pgid) && stat[0] !== "Z") return true;
  }
  return false;
}

/**
 * Ends a whole process group: SIGTERM, then SIGKILL for whatever is still alive after
 * `graceMs`. Returns at once when the group is already empty (the common case).
 */
export async function killProcessGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, "SIGTERM")) return;
  signalGroup(pgid, "SIGCONT");
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid)) {
    if (Date.now() >= deadline) {
      signalGroup(pgid, "SIGKILL");
      return;
    }
    await sleep(POLL_MS);
  }
}

export function killProcessGroupNow(pgid: number): void {
  signalGroup(pgid, "SIGKILL");
}

/** The pid the kernel handed out last (the last field of /proc/loadavg). */
function lastAllocatedPid(): number | undefined {
  try {
    const fields = readFileSync("/proc/loadavg", "latin1").trim().split(" ");
    const last = Number(fields.at(-1));
    return Number.isInteger(last) ? last : undefined;
  } catch {
    return undefined;
  }
}

/** How many processes and threads the kernel has created since boot (`processes` in /proc/stat). */
export function forkCount(): number | undefined {
  try {
    const count = Number(/^processes (\d+)$/m.exec(readFileSync("/proc/stat", "latin1"))?.[1]);
    return Number.isInteger(count) ? count : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Processes that left the job's process group (setsid, daemons) but still carry the job's
 * marker variable in their environment. Linux only; a process that wipes its environment
 * (`env -i`) is not found. With `sincePid` (the step's shell), only pids allocated after it
 * (from it up to the last one handed out) are read, unless pids wrapped around since: reading
 * every process's environment costs milliseconds on a busy host. `forksSince` (forkCount()
 * once the shell was spawned) tells a full wrap-around that ended above `sincePid` again:
 * without a wrap, each fork since took a new pid in that range.
 */
export function findMarkedProcesses(marker: string, sincePid = 0, forksSince?: number): number[] {
  const needle = Buffer.from(`${marker}\0`);
  const last = lastAllocatedPid();
  const forks = forksSince === undefined ? 0 : (forkCount() ?? Infinity) - forksSince;
  const wrapped = last === undefined || last < sincePid || forks > last - sincePid;
  const from = wrapped ? 0 : sincePid;
  const to = wrapped ? Number.POSITIVE_INFINITY : last;
  // Few pids handed out since the step started (the usual case on a quiet host): each is
  // looked at directly, instead of listing every process of the host.
  const candidates =
    !wrapped && to - from <= DIRECT_PROBE_LIMIT
      ? Array.from({ length: to - from + 1 }, (_, i) => from + i)
      : numericEntries("/proc").filter((pid) => pid >= from && pid <= to);
  const found: number[] = [];
  for (const pid of candidates) {
    if (pid === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${String(pid)}/environ`);
      const at = environ.indexOf(needle);
      // The marker must be a whole entry, not the tail of another variable's value.
      const whole = at === 0 || (at > 0 && environ[at - 1] === 0);
      // A thread's id reads like its process's, but only the process itself counts.
      if (whole && threadGroupOf(pid) === pid) found.push(pid);
    } catch {
      // Gone already, never there (a thread's id, another process), or not ours to read.
    }
  }
  return found;
}

function threadGroupOf(pid: number): number | undefined {
  try {
    const tgid = /^Tgid:\s*(\d+)$/m.exec(
      readFileSync(`/proc/${String(pid)}/status`, "latin1"),
    )?.[1];
    return tgid === undefined ? undefined : Number(tgid);
  } catch {
    return undefined;
  }
}

/** SIGTERM, a grace period, then SIGKILL, for processes found by their marker. */
export async function killMarkedProcesses(
  marker: string,
  graceMs: number,
  sincePid = 0,
  forksSince?: number,
): Promise<number> {
  const pids = findMarkedProcesses(marker, sincePid, forksSince);
  if (pids.length === 0) return 0;
  for (const pid of pids) signalPid(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  let alive = pids.filter((pid) => isPidAlive(pid));
  while (alive.length > 0 && Date.now() < deadline) {
    await sleep(POLL_MS);
    alive = alive.filter((pid) => isPidAlive(pid) && procStat(pid)?.[0] !== "Z");
  }
  for (const pid of alive) signalPid(pid, "SIGKILL");
  // Children the escapees forked after we looked carry the marker too.
  for (const pid of findMarkedProcesses(marker, sincePid, forksSince)) signalPid(pid, "SIGKILL");
  return pids.length;
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}
