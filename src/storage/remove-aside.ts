import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";

const pending = new Set<Promise<void>>();

/**
 * Gets `path` out of the way at once and deletes it in the background: a rename into
 * `trashDir` (by default next to `path`) is one system call, where deleting a checkout takes
 * one or more per file. The path is free for reuse as soon as this returns. Falls back to
 * deleting in place (awaited) when the rename is impossible, e.g. across file systems.
 * Node does not exit while a removal is pending; `removalsSettled` waits for them.
 */
export async function removeAside(path: string, trashDir = dirname(path)): Promise<void> {
  try {
    // Gone already, or an empty folder: nothing to do in the background.
    rmdirSync(path);
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
  }
  const trash = join(trashDir, `.pier-removing-${randomBytes(6).toString("hex")}`);
  try {
    mkdirSync(trashDir, { recursive: true });
    renameSync(path, trash);
  } catch {
    await rm(path, { recursive: true, force: true, maxRetries: 3 });
    return;
  }
  const removal = rm(trash, { recursive: true, force: true, maxRetries: 3 })
    .catch(() => undefined)
    .finally(() => pending.delete(removal));
  pending.add(removal);
}

/** Resolves once every removal `removeAside` started (including ones started meanwhile) is done. */
export async function removalsSettled(): Promise<void> {
  while (pending.size > 0) await Promise.all(pending);
}
