import { createHash } from "node:crypto";

const hashLength = 20;

/** One entry of git's index (stage 0 or not), with where its stat data starts. */
export interface GitIndexEntry {
  path: string;
  /** Offset of the entry (its stat data comes first: ctime, mtime, dev, ino, mode, uid, gid, size). */
  offset: number;
  mode: number;
  /** The object id, hex. */
  sha: string;
  /** Merge stage (0 when not in conflict). */
  stage: number;
  /** skip-worktree or intent-to-add (index version 3). */
  extended: boolean;
}

export interface GitIndex {
  entries: GitIndexEntry[];
  /** The cache tree's root (extension TREE), when valid: the tree the index would commit. */
  rootTree?: string;
}

/**
 * git's index (versions 2 and 3, SHA-1, checksum verified), or undefined when this reader does
 * not know it (version 4, another hash, a split or sparse index: the caller asks git).
 */
export function readGitIndex(index: Buffer): GitIndex | undefined {
  if (index.length < 12 + hashLength || index.toString("latin1", 0, 4) !== "DIRC") return undefined;
  const version = index.readUInt32BE(4);
  if (version !== 2 && version !== 3) return undefined;
  const body = index.subarray(0, index.length - hashLength);
  const trailer = index.subarray(index.length - hashLength);
  if (!createHash("sha1").update(body).digest().equals(trailer)) return undefined;
  const count = index.readUInt32BE(8);
  const entries: GitIndexEntry[] = [];
  let offset = 12;
  for (let i = 0; i < count; i++) {
    if (offset + 62 > body.length) return undefined;
    const flags = index.readUInt16BE(offset + 60);
    const extended = version === 3 && (flags & 0x4000) !== 0;
    const pathStart = offset + 62 + (extended ? 2 : 0);
    const pathEnd = index.indexOf(0, pathStart);
    if (pathEnd < 0 || pathEnd > body.length) return undefined;
    entries.push({
      path: index.toString("utf8", pathStart, pathEnd),
      offset,
      mode: index.readUInt32BE(offset + 24),
      sha: index.toString("hex", offset + 40, offset + 60),
      stage: (flags >> 12) & 0x3,
      extended: extended && index.readUInt16BE(offset + 62) !== 0,
    });
    offset += (pathStart - offset + (pathEnd - pathStart) + 8) & ~7;
  }
  // Extensions: those whose name starts with a capital letter are optional; any other (split
  // index "link", sparse "sdir") changes what the entries mean.
  let rootTree: string | undefined;
  while (offset + 8 <= body.length) {
    const first = index[offset] ?? 0;
    if (first < 0x41 || first > 0x5a) return undefined;
    const size = index.readUInt32BE(offset + 4);
    if (index.toString("latin1", offset, offset + 4) === "TREE") {
      rootTree = cacheTreeRoot(index.subarray(offset + 8, offset + 8 + size));
    }
    offset += 8 + size;
  }
  if (offset !== body.length) return undefined;
  return rootTree === undefined ? { entries } : { entries, rootTree };
}

/** The TREE extension's first entry is the root: `\0<entry count> <subtrees>\n<sha>`, -1 when invalid. */
function cacheTreeRoot(data: Buffer): string | undefined {
  if (data[0] !== 0) return undefined;
  const newline = data.indexOf(0x0a, 1);
  if (newline < 0) return undefined;
  const [entryCount] = data.toString("latin1", 1, newline).split(" ");
  if (
    entryCount === undefined ||
    Number(entryCount) < 0 ||
    data.length < newline + 1 + hashLength
  ) {
    return undefined;
  }
  return data.toString("hex", newline + 1, newline + 1 + hashLength);
}
