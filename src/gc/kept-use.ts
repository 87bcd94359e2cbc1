import { mkdir, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/**
 * The mark whose mtime says when a kept volume (registry storage, a DinD layer cache) was last
 * used: `<state>/kept/<volume>`. Volume labels cannot change after creation, so the date lives
 * on the host; `pier gc --max-age` reads it.
 */
export function keptUseMark(stateDir: string, volume: string): string {
  return join(stateDir, "kept", volume);
}

export async function markKeptUse(stateDir: string, volume: string): Promise<void> {
  const path = keptUseMark(stateDir, volume);
  const now = new Date();
  try {
    await utimes(path, now, now);
  } catch {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, "");
  }
}
