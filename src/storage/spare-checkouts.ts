import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { GitShell } from "./git-shell.ts";
import { removeAside } from "./remove-aside.ts";

/** Checkouts being made or ready, by what they hold (repository, commit, working tree changes). */
const spares = new Map<string, Promise<string | undefined>>();
let gitShell: GitShell | undefined;

/**
 * Moves the spare checkout made for `key` to `target` (one rename) and returns true; false when
 * there is none, or it failed, or the rename did (the caller then checks out as usual). Waits
 * for a spare still being made: it started earlier than a new checkout would.
 */
export async function takeSpareCheckout(key: string, target: string): Promise<boolean> {
  const making = spares.get(key);
  if (making === undefined) return false;
  spares.delete(key);
  const path = await making;
  if (path === undefined) return false;
  try {
    mkdirSync(dirname(target), { recursive: true });
    renameSync(path, target);
    return true;
  } catch {
    await removeAside(path).catch(() => undefined);
    return false;
  }
}

/**
 * Starts making, in the background, a checkout for `key` under `spareDir` with `make`, for the
 * next job of the pipeline to take: its git process then runs while the current job does, and
 * is started by a long-lived shell (see GitShell), not by pier. At most one spare per key; a
 * failed one is removed and simply not there.
 */
export function keepSpareCheckout(
  key: string,
  spareDir: string,
  make: (path: string, git: GitShell) => Promise<void>,
): void {
  if (spares.has(key)) return;
  const path = join(spareDir, `${String(process.pid)}-${randomBytes(6).toString("hex")}`);
  gitShell ??= new GitShell();
  spares.set(
    key,
    make(path, gitShell).then(
      () => path,
      async () => {
        await removeAside(path).catch(() => undefined);
        return undefined;
      },
    ),
  );
}

/** Removes the spare checkouts nobody took and ends the shell (at the end of a pipeline). */
export async function discardSpareCheckouts(): Promise<void> {
  const pending = [...spares.values()];
  spares.clear();
  for (const path of await Promise.all(pending)) {
    if (path !== undefined) await removeAside(path).catch(() => undefined);
  }
  gitShell?.close();
  gitShell = undefined;
}
