import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  copyCheckoutTemplate,
  loadCheckoutTemplate,
  type CheckoutTemplate,
} from "./checkout-template.ts";
import { GitShell } from "./git-shell.ts";
import { removeAside } from "./remove-aside.ts";

/**
 * Makes a checkout at `path` with `git`. May resolve with the paths whose content differs from
 * what the index says (working tree changes copied over the commit).
 */
export type MakeCheckout = (path: string, git: GitShell) => Promise<Iterable<string> | void>;

/** Checkouts being made or ready, by what they hold (repository, commit, working tree changes). */
const spares = new Map<string, Promise<string | undefined>>();
/** One template per key, made once with git; spares are copies of it (see checkout-template.ts). */
const templates = new Map<string, Promise<CheckoutTemplate | undefined>>();
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
 * Starts making, in the background, a checkout for `key` under `spareDir`, for the next job of
 * the pipeline to take. The first one for a key is a template made with `make` (its git process
 * started by a long-lived shell, see GitShell, not by pier); every spare is then a copy of the
 * template made in-process, so no git runs per job. Should the template's index be one pier
 * cannot rewrite, each spare is made with `make`. At most one spare per key; a failed one is
 * removed and simply not there.
 */
export function keepSpareCheckout(key: string, spareDir: string, make: MakeCheckout): void {
  if (spares.has(key)) return;
  const path = spareName(spareDir);
  gitShell ??= new GitShell();
  const git = gitShell;
  let template = templates.get(key);
  if (template === undefined) {
    template = makeTemplate(spareName(spareDir, "template-"), git, make);
    templates.set(key, template);
  }
  const making = template.then(async (made) => {
    if (made === undefined) {
      await make(path, git);
      return;
    }
    // A template removed behind pier's back is made again next time.
    await copyCheckoutTemplate(made, path).catch((error: unknown) => {
      if (templates.get(key) === template) templates.delete(key);
      throw error;
    });
  });
  spares.set(
    key,
    making.then(
      () => path,
      async () => {
        await removeAside(path).catch(() => undefined);
        return undefined;
      },
    ),
  );
}

async function makeTemplate(
  path: string,
  git: GitShell,
  make: MakeCheckout,
): Promise<CheckoutTemplate | undefined> {
  try {
    const stale = new Set(Array.from((await make(path, git)) ?? []));
    const template = await loadCheckoutTemplate(path, stale);
    if (template === undefined) await removeAside(path);
    return template;
  } catch {
    await removeAside(path).catch(() => undefined);
    return undefined;
  }
}

/** `<pid>-…`: `pier gc` removes what a pier that is gone left here. */
function spareName(spareDir: string, kind = ""): string {
  return join(spareDir, `${String(process.pid)}-${kind}${randomBytes(6).toString("hex")}`);
}

/** Removes the spare checkouts nobody took and the templates, and ends the shell. */
export async function discardSpareCheckouts(): Promise<void> {
  const pending = [...spares.values()];
  const made = [...templates.values()];
  spares.clear();
  templates.clear();
  for (const path of await Promise.all(pending)) {
    if (path !== undefined) await removeAside(path).catch(() => undefined);
  }
  for (const template of await Promise.all(made)) {
    if (template !== undefined) await removeAside(template.dir).catch(() => undefined);
  }
  gitShell?.close();
  gitShell = undefined;
}
