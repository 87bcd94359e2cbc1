import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  copyCheckoutTemplate,
  loadCheckoutTemplate,
  type CheckoutTemplate,
} from "./checkout-template.ts";
import { closeSharedGitShell, sharedGitShell, type GitShell } from "./git-shell.ts";
import { releaseKeptBuilds } from "./kept-builds.ts";
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
export function keepSpareCheckout(
  key: string,
  spareDir: string,
  make: MakeCheckout,
  templateKey = key,
): void {
  if (spares.has(key)) return;
  const path = spareName(spareDir);
  const git = sharedGitShell();
  const template = startCheckoutTemplate(templateKey, spareDir, make);
  const making = template.then(async (made) => {
    if (made === undefined) await make(path, git);
    else await copyTemplate(templateKey, template, made, path);
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

/**
 * Starts making the template for `templateKey` with `make` unless it is made or being made
 * (e.g. while the pipeline is planned, before its first job asks for a checkout).
 */
export function startCheckoutTemplate(
  templateKey: string,
  spareDir: string,
  make: MakeCheckout,
): Promise<CheckoutTemplate | undefined> {
  let template = templates.get(templateKey);
  if (template === undefined) {
    template = makeTemplate(spareName(spareDir, "template-"), sharedGitShell(), make);
    templates.set(templateKey, template);
  }
  return template;
}

/**
 * Copies the template for `templateKey` to `target` when one was started; false when there is
 * none or it failed (the caller then checks out as usual).
 */
export async function copyFromCheckoutTemplate(
  templateKey: string,
  target: string,
): Promise<boolean> {
  const template = templates.get(templateKey);
  const made = await template;
  if (template === undefined || made === undefined) return false;
  return copyTemplate(templateKey, template, made, target).then(
    () => true,
    async () => {
      await removeAside(target).catch(() => undefined);
      return false;
    },
  );
}

async function copyTemplate(
  templateKey: string,
  template: Promise<CheckoutTemplate | undefined>,
  made: CheckoutTemplate,
  target: string,
): Promise<void> {
  try {
    await copyCheckoutTemplate(made, target);
  } catch (error) {
    // A template removed behind pier's back is made again next time.
    if (templates.get(templateKey) === template) templates.delete(templateKey);
    throw error;
  }
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

/**
 * At the end of a run: removes the build folders kept between jobs (see kept-builds.ts), the
 * spare checkouts nobody took and the templates, and ends the shell.
 */
export async function discardSpareCheckouts(): Promise<void> {
  await releaseKeptBuilds();
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
  closeSharedGitShell();
}
