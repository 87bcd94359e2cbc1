import { lstatSync, readFileSync, statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { readGitObject } from "../pipeline/context/git-objects.ts";
import { readGitIndex, type GitIndexEntry } from "./git-index.ts";
import type { RepositoryLayout } from "./repository-layout.ts";

/** Beyond this many tracked files, one git process is cheaper than pier's own checks. */
const MAX_ENTRIES = 512;

/**
 * Whether `git diff HEAD` would find nothing, from the files alone when that is cheap and
 * certain: the index's cache tree is HEAD's tree, and every tracked file's stat data is the
 * index's and older than the index (not racy). Undefined when git must be asked: a spawn
 * costs pier's main thread several milliseconds.
 */
export function worktreeMatchesHead(layout: RepositoryLayout): true | undefined {
  if (layout.indexFile === undefined || layout.head === "") return undefined;
  try {
    const indexStats = statSync(layout.indexFile, { bigint: true });
    const bytes = readFileSync(layout.indexFile);
    const index = readGitIndex(bytes);
    if (index?.rootTree === undefined || index.entries.length > MAX_ENTRIES) return undefined;
    if (index.rootTree !== headTree(layout)) return undefined;
    const realDirs = new Map<string, boolean>();
    for (const entry of index.entries) {
      if (!parentsAreDirectories(layout.topLevel, entry.path, realDirs)) return undefined;
      if (!unchanged(layout.topLevel, bytes, entry, indexStats.mtimeNs)) return undefined;
    }
    return true;
  } catch {
    return undefined;
  }
}

function headTree(layout: RepositoryLayout): string | undefined {
  const commit = readGitObject(layout.objectsDir, layout.head);
  if (commit?.type !== "commit") return undefined;
  return /^tree ([0-9a-f]{40})\n/.exec(commit.data.toString("latin1", 0, 46))?.[1];
}

/**
 * Every folder on the way to `path` is a real one: lstat of the file would follow a symbolic
 * link in place of a folder, where git sees the file as gone.
 */
function parentsAreDirectories(
  topLevel: string,
  path: string,
  known: Map<string, boolean>,
): boolean {
  for (let slash = path.indexOf("/"); slash !== -1; slash = path.indexOf("/", slash + 1)) {
    const dir = path.slice(0, slash);
    let real = known.get(dir);
    if (real === undefined) {
      real = lstatSync(join(topLevel, dir)).isDirectory();
      known.set(dir, real);
    }
    if (!real) return false;
  }
  return true;
}

/** The file is as the index recorded it (stricter than git: any doubt means "ask git"). */
function unchanged(
  topLevel: string,
  index: Buffer,
  entry: GitIndexEntry,
  indexMtimeNs: bigint,
): boolean {
  if (entry.stage !== 0 || entry.extended) return false;
  const type = entry.mode >>> 12;
  // Submodules: `git diff --ignore-submodules=all` does not look at them either.
  if (type === 0o16) return true;
  const stats = lstatSync(join(topLevel, entry.path), { bigint: true });
  if (stats.mtimeNs >= indexMtimeNs) return false;
  const kindMatches =
    type === 0o12
      ? stats.isSymbolicLink()
      : stats.isFile() && (entry.mode & 0o100) === (Number(stats.mode) & 0o100);
  return kindMatches && sameStat(stats, index, entry.offset);
}

/** ctime, mtime, inode, owner and size as git stores them (low 32 bits); not the device. */
function sameStat(stats: BigIntStats, index: Buffer, offset: number): boolean {
  const low = (value: bigint): number => Number(value & 0xffffffffn);
  const second = 1_000_000_000n;
  const expected = [
    [0, low(stats.ctimeNs / second)],
    [4, low(stats.ctimeNs % second)],
    [8, low(stats.mtimeNs / second)],
    [12, low(stats.mtimeNs % second)],
    [20, low(stats.ino)],
    [28, low(stats.uid)],
    [32, low(stats.gid)],
    [36, low(stats.size)],
  ] as const;
  return expected.every(([at, value]) => index.readUInt32BE(offset + at) === value);
}
