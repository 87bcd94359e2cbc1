import { randomBytes } from "node:crypto";
import { readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readLock } from "../storage/concurrency-slots.ts";
import { currentProcess, isPidAlive, isRunning } from "../storage/process-identity.ts";
import { scratchDirOwner, scratchRoot } from "../storage/scratch-dirs.ts";
import { buildsRoot, packsRoot, spareCheckoutsRoot } from "../storage/state-dir.ts";
import type { GcAction } from "./dead-owner-sweep.ts";

/** Drafts and build dirs younger than this may belong to a pier that is just starting. */
const GRACE_MS = 60_000;

/**
 * Under the state dir: lock files (slot leases, layer-cache leases) whose owner is gone, lock
 * drafts and takeover guards left by a crash, scratch folders of piers that are gone, and build
 * folders of concurrency slots nobody holds. A lock is removed only if it still holds the content that was judged stale.
 */
export async function sweepStateDir(
  stateDir: string,
  options: { dryRun?: boolean; now?: number; buildDirs?: boolean } = {},
): Promise<GcAction[]> {
  const now = options.now ?? Date.now();
  const actions: GcAction[] = [];
  const remove = async (action: GcAction, doIt: () => Promise<void>): Promise<void> => {
    actions.push(action);
    if (options.dryRun === true) return;
    try {
      await doIt();
    } catch (error) {
      action.error = error instanceof Error ? error.message : String(error);
    }
  };

  const lockRoots = [join(stateDir, "locks"), join(stateDir, "layer-cache", "locks")];
  for (const root of lockRoots) {
    for (const file of await filesUnder(root)) {
      const name = file.slice(file.lastIndexOf("/") + 1);
      if (name.startsWith(".draft-")) {
        if (now - (await mtimeOf(file)) > GRACE_MS) {
          await remove({ kind: "file", name: file, reason: "lock draft left by a crash" }, () =>
            unlink(file),
          );
        }
        continue;
      }
      if (!name.endsWith(".lock") && !name.endsWith(".lock.takeover")) continue;
      const lock = await readLock(file);
      if (lock === undefined || (await isRunning(lock))) continue;
      await remove(
        { kind: "file", name: file, reason: `lock owner ${String(lock.pid)} is gone` },
        () => removeStaleLock(file, lock.nonce),
      );
    }
  }

  for (const name of await entries(scratchRoot(stateDir))) {
    const pid = scratchDirOwner(name);
    if (pid === undefined || isPidAlive(pid)) continue;
    const path = join(scratchRoot(stateDir), name);
    await remove(
      { kind: "directory", name: path, reason: `scratch folder of pier ${String(pid)}, gone` },
      () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
    );
  }

  for (const name of await entries(packsRoot(stateDir))) {
    const pid = Number(/^\.(?:draft|evict)-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || isPidAlive(pid)) continue;
    const path = join(packsRoot(stateDir), name);
    await remove(
      { kind: "directory", name: path, reason: `pack folder of pier ${String(pid)}, gone` },
      () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
    );
  }

  if (options.buildDirs === false) return actions;
  // builds/<concurrent id>/…: in use exactly while locks/concurrent/<id>.lock has a live owner.
  const builds = buildsRoot(stateDir);
  for (const slot of await entries(builds)) {
    const dir = join(builds, slot);
    if (dir === spareCheckoutsRoot(stateDir)) {
      await sweepSpareCheckouts(dir, remove);
      continue;
    }
    const lock = await readLock(join(stateDir, "locks", "concurrent", `${slot}.lock`));
    if (lock !== undefined && (await isRunning(lock))) continue;
    if (now - (await mtimeOf(dir)) < GRACE_MS) continue;
    await remove(
      { kind: "directory", name: dir, reason: `no pier holds concurrency slot ${slot}` },
      async () => {
        const holder = await readLock(join(stateDir, "locks", "concurrent", `${slot}.lock`));
        if (holder !== undefined && (await isRunning(holder))) return;
        await rm(dir, { recursive: true, force: true, maxRetries: 3 });
      },
    );
  }
  return actions;
}

/** Spare checkouts belong to the pier whose pid starts their name: kept while it runs. */
async function sweepSpareCheckouts(
  dir: string,
  remove: (action: GcAction, doIt: () => Promise<void>) => Promise<void>,
): Promise<void> {
  for (const name of await entries(dir)) {
    const pid = Number(/^(\d+)-/.exec(name)?.[1]);
    if (Number.isInteger(pid) && isPidAlive(pid)) continue;
    const path = join(dir, name);
    await remove(
      { kind: "directory", name: path, reason: `spare checkout of pier ${String(pid)}, gone` },
      () => rm(path, { recursive: true, force: true, maxRetries: 3 }),
    );
  }
}

/**
 * The slot leases' own takeover protocol: hold `<lock>.takeover` (naming this process, so
 * others see a live holder) while re-checking and deleting, so a lock another process has just
 * re-created in the stale one's place is never deleted.
 */
async function removeStaleLock(path: string, staleNonce: string): Promise<void> {
  const guard = `${path}.takeover`;
  if (path.endsWith(".takeover")) {
    const again = await readLock(path);
    if (again?.nonce === staleNonce) await unlink(path);
    return;
  }
  try {
    await writeFile(
      guard,
      JSON.stringify({ ...currentProcess(), nonce: randomBytes(8).toString("hex") }),
      {
        flag: "wx",
      },
    );
  } catch {
    return; // Someone else is taking it over.
  }
  try {
    const again = await readLock(path);
    if (again?.nonce === staleNonce) await unlink(path);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(path)));
    else found.push(path);
  }
  return found;
}

async function mtimeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}
