import { randomBytes } from "node:crypto";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { currentProcess, isRunning, type ProcessIdentity } from "./process-identity.ts";
import { safeDirComponent } from "./safe-name.ts";

export interface SlotLease {
  /** CI_CONCURRENT_ID: unique among all jobs running on this host, from 0. */
  concurrentId: number;
  /** CI_CONCURRENT_PROJECT_ID: unique among this project's jobs running on this host, from 0. */
  projectConcurrentId: number;
  /** Gives both slots back; safe to call more than once. */
  release(): Promise<void>;
}

interface LockContent extends ProcessIdentity {
  /** Tells this lock file apart from a later one at the same path. */
  nonce: string;
  created: string;
}

const heldLocks = new Map<string, string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const path of heldLocks.keys()) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  });
}

export function locksRoot(stateDir: string): string {
  return join(stateDir, "locks");
}

/**
 * Leases the lowest free CI_CONCURRENT_ID on this host and the lowest free
 * CI_CONCURRENT_PROJECT_ID for the project, with one lock file per slot. Lock files appear
 * complete in one step (written aside, then hard-linked into place, which fails if the slot is
 * taken) and name their owner by pid and start time; a lock whose owner is gone is taken over.
 * The file operations are synchronous: each is a few microseconds on tiny files, where a trip
 * through libuv's thread pool costs a millisecond on a busy host, and a job leases once.
 */
export async function leaseSlots(o: {
  stateDir: string;
  projectKey: string;
  signal?: AbortSignal;
}): Promise<SlotLease> {
  installExitHook();
  const root = locksRoot(o.stateDir);
  const concurrentDir = join(root, "concurrent");
  const projectDir = join(root, "projects", safeDirComponent(o.projectKey));
  mkdirSync(concurrentDir, { recursive: true });
  mkdirSync(projectDir, { recursive: true });

  const content: LockContent = {
    ...currentProcess(),
    nonce: randomBytes(8).toString("hex"),
    created: new Date().toISOString(),
  };
  const draft = join(root, `.draft-${String(process.pid)}-${content.nonce}`);
  writeFileSync(draft, JSON.stringify(content));
  const taken: string[] = [];
  try {
    const concurrentId = await acquireLowest(concurrentDir, draft, content, o.signal);
    taken.push(slotPath(concurrentDir, concurrentId));
    const projectConcurrentId = await acquireLowest(projectDir, draft, content, o.signal);
    taken.push(slotPath(projectDir, projectConcurrentId));
    let released = false;
    return {
      concurrentId,
      projectConcurrentId,
      release() {
        if (!released) {
          released = true;
          for (const path of taken) releaseLock(path, content.nonce);
        }
        return Promise.resolve();
      },
    };
  } catch (error) {
    for (const path of taken) releaseLock(path, content.nonce);
    throw error;
  } finally {
    removeQuietly(draft);
  }
}

function slotPath(dir: string, id: number): string {
  return join(dir, `${String(id)}.lock`);
}

async function acquireLowest(
  dir: string,
  draft: string,
  content: LockContent,
  signal?: AbortSignal,
): Promise<number> {
  for (let id = 0; ; id++) {
    signal?.throwIfAborted();
    const path = slotPath(dir, id);
    if (await tryAcquire(path, draft)) {
      heldLocks.set(path, content.nonce);
      return id;
    }
  }
}

async function tryAcquire(path: string, draft: string): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      linkSync(draft, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = readLockNow(path);
    if (owner === undefined) continue;
    if (await isRunning(owner)) return false;
    if (!(await removeStaleLock(path, owner, draft))) return false;
  }
  return false;
}

/**
 * Two processes may find the same stale lock; without care both would delete it, and the
 * second delete could remove the fresh lock the first had just created. A takeover guard
 * (itself a lock file) lets one of them at a time re-check and delete.
 */
async function removeStaleLock(path: string, stale: LockContent, draft: string): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    linkSync(draft, guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const guardOwner = readLockNow(guard);
    // A guard left by a process that died mid-takeover is cleared; the caller retries.
    if (guardOwner !== undefined && !(await isRunning(guardOwner))) removeQuietly(guard);
    return false;
  }
  try {
    const current = readLockNow(path);
    if (current?.nonce === stale.nonce) removeQuietly(path);
    return true;
  } finally {
    removeQuietly(guard);
  }
}

/** A lock file's owner and nonce; undefined when there is no such file. Shared with `pier gc`. */
export function readLock(path: string): Promise<LockContent | undefined> {
  return Promise.resolve(readLockNow(path));
}

function readLockNow(path: string): LockContent | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockContent>;
    return {
      pid: Number(parsed.pid),
      start: String(parsed.start ?? ""),
      nonce: String(parsed.nonce ?? ""),
      created: String(parsed.created ?? ""),
    };
  } catch {
    // Lock files are complete from the moment they exist; garbage means no live owner.
    return { pid: 0, start: "", nonce: "", created: "" };
  }
}

function releaseLock(path: string, nonce: string): void {
  heldLocks.delete(path);
  if (readLockNow(path)?.nonce === nonce) removeQuietly(path);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
