import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import picomatch from "picomatch";
import type { JobCache } from "../job/spec.ts";
import { matchProjectPaths } from "./path-match.ts";
import { runGit } from "./run-git.ts";
import { safeDirComponent } from "./safe-name.ts";
import { extractZip, writeZipAtomically } from "./zip-archive.ts";

export type RestoreOutcome = "hit" | "fallback" | "miss" | "skipped";

/** Receives gitlab-runner style lines ("Checking cache for KEY...", "WARNING: ..."). */
export type CacheLog = (line: string) => void;

/** Caches are per project: `<state>/cache/<project key>/<cache key>/cache.zip`, as gitlab-runner lays them out. */
export function cacheDirFor(stateDir: string, projectKey: string): string {
  return join(stateDir, "cache", safeDirComponent(projectKey));
}

export function cacheArchivePath(cacheDir: string, key: string): string {
  return join(cacheDir, safeDirComponent(key), "cache.zip");
}

function hasSomethingToCache(cache: JobCache): boolean {
  return cache.paths.length > 0 || cache.untracked;
}

/**
 * Restores the cache for `cache.key`, else the first of `fallback_keys` that exists.
 * Skipped for `policy: push` and for a cache with nothing to cache. Extraction goes through
 * an open file descriptor, so a concurrent save (which renames a new archive into place)
 * never hands a reader a half-written archive.
 */
export async function restoreCache(o: {
  cacheDir: string;
  cache: JobCache;
  projectDir: string;
  signal?: AbortSignal;
  log?: CacheLog;
}): Promise<RestoreOutcome> {
  const log = o.log ?? (() => undefined);
  if (o.cache.policy === "push") {
    log(`Not downloading cache ${o.cache.key} due to policy`);
    return "skipped";
  }
  if (!hasSomethingToCache(o.cache)) return "skipped";
  const keys = [o.cache.key, ...(o.cache.fallback_keys ?? [])];
  for (const [index, key] of keys.entries()) {
    log(`Checking cache for ${key}...`);
    const archive = cacheArchivePath(o.cacheDir, key);
    try {
      await extractZip(archive, o.projectDir, o.signal);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        log(`WARNING: ${archive}: no such file or directory`);
        continue;
      }
      throw error;
    }
    log(`Successfully extracted cache`);
    return index === 0 ? "hit" : "fallback";
  }
  log("Failed to extract cache");
  return "miss";
}

/**
 * Archives the cache paths under `cache.key` when `policy` and `when` allow it. The archive is
 * written to a temporary file, flushed and renamed into place, so concurrent jobs with one key
 * each publish a complete archive and the last one wins.
 */
export async function saveCache(o: {
  cacheDir: string;
  cache: JobCache;
  projectDir: string;
  jobSucceeded: boolean;
  signal?: AbortSignal;
  log?: CacheLog;
}): Promise<"saved" | "skipped"> {
  const log = o.log ?? (() => undefined);
  const { cache } = o;
  if (cache.policy === "pull") {
    log(`Not uploading cache ${cache.key} due to policy`);
    return "skipped";
  }
  const when = cache.when;
  if (!(when === "always" || (when === "on_success") === o.jobSucceeded)) return "skipped";
  if (!hasSomethingToCache(cache)) return "skipped";
  log(`Creating cache ${cache.key}...`);
  const matched = await matchProjectPaths({
    projectDir: o.projectDir,
    paths: cache.paths,
    untracked: cache.untracked,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  for (const warning of matched.warnings) log(`WARNING: ${warning}`);
  for (const info of matched.infos) log(info);
  if (matched.entries.length === 0) {
    log("No files to cache, the cache is not updated");
    return "skipped";
  }
  const archive = cacheArchivePath(o.cacheDir, cache.key);
  await writeZipAtomically(o.projectDir, matched.entries, archive, o.signal);
  log(`Created cache`);
  return "saved";
}

/**
 * `cache:key:files` as GitLab computes it: the files (globs expanded against the tracked
 * files) are hashed as git blobs, the sorted unique blob ids joined with "-" and SHA-1
 * hashed; `prefix-` in front when given; "default" (after the prefix) when no file exists.
 * The project dir is the job's checkout, so uncommitted changes that pier applied count.
 */
export async function cacheKeyFromFiles(
  projectDir: string,
  files: string[],
  prefix?: string,
): Promise<string> {
  const patterns = [...new Set(files.filter((f) => f !== ""))];
  const expanded = new Set<string>();
  let tracked: string[] | undefined;
  for (const pattern of patterns) {
    if (pattern.includes("*")) {
      tracked ??= (await runGit(["ls-files", "-z"], { cwd: projectDir })).stdout
        .toString("utf8")
        .split("\0")
        .filter((p) => p !== "");
      const matches = picomatch(pattern.replace(/^\.\//, ""), { dot: true });
      for (const path of tracked) if (matches(path)) expanded.add(path);
    } else {
      expanded.add(pattern.replace(/^\.\//, ""));
    }
  }
  const existing: string[] = [];
  for (const path of expanded) {
    if (
      await stat(join(projectDir, path)).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      existing.push(path);
  }
  let digest = "default";
  if (existing.length > 0) {
    const { stdout } = await runGit(["hash-object", "--", ...existing], {
      cwd: projectDir,
    });
    const ids = [...new Set(stdout.toString("utf8").trim().split("\n"))].sort();
    digest = createHash("sha1").update(ids.join("-")).digest("hex");
  }
  return [prefix, digest].filter((part) => part !== undefined && part !== "").join("-");
}
