import { mkdirSync, mkdtempSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";

/**
 * `<state>/tmp`: folders a running pier needs for a while (staging, kept packs, downloads).
 * Their names carry the owner's pid (`<what>-<pid>-<random>`), so `pier gc` and the next
 * pier start can remove those a killed pier left.
 */
export function scratchRoot(stateDir: string): string {
  return join(stateDir, "tmp");
}

/** A new, empty scratch folder of this process. `what` names its use (letters and dashes). */
export async function makeScratchDir(stateDir: string, what: string): Promise<string> {
  const root = scratchRoot(stateDir);
  await mkdir(root, { recursive: true });
  return mkdtemp(join(root, `${what}-${process.pid}-`));
}

export function makeScratchDirSync(stateDir: string, what: string): string {
  const root = scratchRoot(stateDir);
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `${what}-${process.pid}-`));
}

/** The pid in a scratch folder's name, or undefined for a name not made by makeScratchDir. */
export function scratchDirOwner(name: string): number | undefined {
  const pid = /^[a-z-]+-(\d+)-[A-Za-z0-9]{6}$/.exec(name)?.[1];
  return pid === undefined ? undefined : Number(pid);
}
