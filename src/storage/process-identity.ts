import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/** A process as lock files record it: the pid plus its start time, so a reused pid is not mistaken for the owner. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); "" where /proc does not exist. */
  start: string;
}

function startFromStat(text: string): string {
  // The command name (field 2) is in parentheses and may itself hold spaces or ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? "";
}

let self: ProcessIdentity | undefined;

export function currentProcess(): ProcessIdentity {
  if (self === undefined) {
    let start = "";
    try {
      start = startFromStat(readFileSync("/proc/self/stat", "utf8"));
    } catch {
      // Not Linux: liveness falls back to the pid alone.
    }
    self = { pid: process.pid, start };
  }
  return self;
}

/** True while a process with this pid exists (ours to signal or not). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** True while the process that wrote the identity still runs (same pid and same start time). */
export async function isRunning(identity: ProcessIdentity): Promise<boolean> {
  const me = currentProcess();
  if (identity.pid === me.pid) return identity.start === me.start;
  if (!Number.isInteger(identity.pid) || identity.pid <= 0) return false;
  if (!isPidAlive(identity.pid)) return false;
  if (identity.start === "") return true;
  try {
    return (
      startFromStat(await readFile(`/proc/${String(identity.pid)}/stat`, "utf8")) === identity.start
    );
  } catch {
    return false;
  }
}
