import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import type picomatchModule from "picomatch";

// picomatch takes time to load: loaded for the first glob include, not with every pipeline.
/** Made when first used: its module lookup setup costs every start otherwise. */
let requireHere: NodeJS.Require | undefined;
function loadModule(name: string): unknown {
  requireHere ??= createRequire(import.meta.url);
  return requireHere(name);
}
let picomatch: typeof picomatchModule | undefined;

/**
 * Repository files matching an `include:local` glob (GitLab: `*` stays in one directory,
 * `**` crosses directories), sorted, relative to the repository root.
 */
export function globLocalFiles(repoDir: string, pattern: string): string[] {
  const normalised = pattern.replace(/^\/+/, "").replace(/\*\*(?!\/)/g, "**/*");
  picomatch ??= loadModule("picomatch") as typeof picomatchModule;
  const matcher = picomatch(normalised, { dot: true });
  const segments = normalised.split("/");
  const fixed: string[] = [];
  for (const segment of segments) {
    if (/[*?[{]/.test(segment)) break;
    fixed.push(segment);
  }
  const results: string[] = [];
  const walk = (relative: string, budget: { entries: number }): void => {
    let entries;
    try {
      entries = readdirSync(join(repoDir, relative), { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (--budget.entries < 0) return;
      if (entry.name === ".git") continue;
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path, budget);
      else if (matcher(path)) results.push(path);
    }
  };
  const start = fixed.join("/");
  try {
    if (!statSync(join(repoDir, start)).isDirectory()) return [];
  } catch {
    return [];
  }
  walk(start, { entries: 100_000 });
  return results.sort();
}
