import { lstat, readdir, realpath } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, join, normalize, relative, sep } from "node:path";
import picomatch from "picomatch";
import { runGit } from "./run-git.ts";

export interface MatchedEntry {
  /** Relative to the project dir, "/" separated, no trailing slash. */
  path: string;
  stats: Stats;
}

export interface MatchedPaths {
  /** Files, directories and symlinks (never followed), sorted by path. */
  entries: MatchedEntry[];
  /** gitlab-runner's warning texts, without the "WARNING: " prefix. */
  warnings: string[];
  /** gitlab-runner's informational lines ("found N matching artifact files and directories"). */
  infos: string[];
}

const globOptions = { dot: true } as const;

/**
 * Collects what `paths`, `exclude` and `untracked` select in a project dir, the way
 * gitlab-runner's file archiver does: each glob match is walked recursively, every walked
 * path is checked against the exclude patterns on its own (excluding a directory does not
 * exclude what is inside it unless the pattern says so), symlinks are archived as links
 * and never followed, and nothing outside the project dir is ever selected.
 */
export async function matchProjectPaths(o: {
  projectDir: string;
  paths: string[];
  exclude?: string[];
  untracked?: boolean;
  signal?: AbortSignal;
}): Promise<MatchedPaths> {
  const projectDir = await realpath(o.projectDir);
  const found = new Map<string, Stats>();
  const warnings: string[] = [];
  const infos: string[] = [];
  const excludeMatchers = (o.exclude ?? []).flatMap((pattern) => {
    const normalised = normalisePattern(pattern);
    return normalised === undefined
      ? []
      : [{ pattern, matches: picomatch(normalised, globOptions) }];
  });
  const excludedCounts = new Map<string, number>();

  const consider = (relativePath: string, stats: Stats): boolean => {
    const rule = excludeMatchers.find((m) => m.matches(relativePath));
    if (rule !== undefined) {
      excludedCounts.set(rule.pattern, (excludedCounts.get(rule.pattern) ?? 0) + 1);
      return false;
    }
    found.set(relativePath, stats);
    return true;
  };

  for (const pattern of o.paths) {
    o.signal?.throwIfAborted();
    const normalised = normalisePattern(pattern);
    if (normalised === undefined) {
      warnings.push(`processPath: artifact path is not a subpath of project directory: ${pattern}`);
      continue;
    }
    let count = 0;
    for (const match of await globInProject(projectDir, normalised)) {
      count += await walk(projectDir, match.path, match.stats, consider);
    }
    if (count === 0) {
      warnings.push(
        `${normalised}: no matching files. Ensure that the artifact path is relative to the working directory (${o.projectDir})`,
      );
    } else {
      infos.push(`${normalised}: found ${String(count)} matching artifact files and directories`);
    }
  }

  if (o.untracked === true) {
    let count = 0;
    for (const path of await untrackedFiles(projectDir, o.signal)) {
      const stats = await lstatOrUndefined(join(projectDir, path));
      if (stats !== undefined && consider(path, stats)) count++;
    }
    if (count === 0) warnings.push("untracked: no files");
    else infos.push(`untracked: found ${String(count)} files`);
  }

  for (const [pattern, count] of excludedCounts)
    infos.push(`${pattern}: excluded ${String(count)} files`);

  const entries = [...found].map(([path, stats]) => ({ path, stats }));
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, warnings, infos };
}

/** "./dist/" → "dist"; undefined when the pattern points outside the project dir. */
function normalisePattern(pattern: string): string | undefined {
  if (pattern === "" || isAbsolute(pattern)) return undefined;
  const cleaned = normalize(pattern).split(sep).join("/").replace(/\/+$/, "");
  if (cleaned === ".." || cleaned.startsWith("../")) return undefined;
  return cleaned === "" ? "." : cleaned;
}

async function globInProject(
  projectDir: string,
  pattern: string,
): Promise<{ path: string; stats: Stats }[]> {
  const scanned = picomatch.scan(pattern);
  if (!scanned.isGlob) {
    const stats = await lstatInside(projectDir, pattern);
    return stats === undefined ? [] : [{ path: pattern, stats }];
  }
  const base = scanned.base === "" ? "." : scanned.base;
  const baseStats = await lstatInside(projectDir, base);
  if (baseStats === undefined || !baseStats.isDirectory()) return [];
  const matches = picomatch(pattern, globOptions);
  const results: { path: string; stats: Stats }[] = [];
  if (base !== "." && matches(base)) return [{ path: base, stats: baseStats }];
  const visit = async (dir: string): Promise<void> => {
    for (const dirent of await readdir(join(projectDir, dir), { withFileTypes: true })) {
      const path = dir === "." ? dirent.name : `${dir}/${dirent.name}`;
      const stats = await lstatOrUndefined(join(projectDir, path));
      if (stats === undefined) continue;
      if (matches(path)) results.push({ path, stats });
      // A directory already matched is walked whole later; below it the glob adds nothing new.
      else if (stats.isDirectory()) await visit(path);
    }
  };
  await visit(base);
  return results;
}

async function walk(
  projectDir: string,
  path: string,
  stats: Stats,
  consider: (path: string, stats: Stats) => boolean,
): Promise<number> {
  let count = path !== "." && consider(path, stats) ? 1 : 0;
  if (!stats.isDirectory()) return count;
  for (const name of await readdir(join(projectDir, path))) {
    const child = path === "." ? name : `${path}/${name}`;
    const childStats = await lstatOrUndefined(join(projectDir, child));
    if (childStats !== undefined) count += await walk(projectDir, child, childStats, consider);
  }
  return count;
}

/**
 * lstat of a project-relative path whose parent directories must resolve inside the project:
 * `link/file` where `link` points at /etc must not select /etc/file.
 */
async function lstatInside(projectDir: string, path: string): Promise<Stats | undefined> {
  const absolute = join(projectDir, path);
  if (path === ".") return lstatOrUndefined(absolute);
  const stats = await lstatOrUndefined(absolute);
  if (stats === undefined) return undefined;
  const parent = await realpath(join(absolute, "..")).catch(() => undefined);
  if (parent === undefined) return undefined;
  const fromRoot = relative(projectDir, parent);
  if (fromRoot.startsWith("..") || isAbsolute(fromRoot)) return undefined;
  return stats;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch {
    return undefined;
  }
}

/** Untracked files as gitlab-runner lists them: ignored files included. */
async function untrackedFiles(projectDir: string, signal?: AbortSignal): Promise<string[]> {
  try {
    const { stdout } = await runGit(["ls-files", "--others", "-z"], {
      cwd: projectDir,
      ...(signal === undefined ? {} : { signal }),
    });
    return stdout
      .toString("utf8")
      .split("\0")
      .filter((p) => p !== "");
  } catch {
    return [];
  }
}
