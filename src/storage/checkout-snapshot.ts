import { lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats } from "node:fs";
import { join } from "node:path";

/** One entry of a checkout as it was: its metadata and, for files and links, what it holds. */
interface SnapshotEntry {
  path: string;
  stats: string;
  content?: Buffer;
  linkTarget?: string;
}

/**
 * A small checkout recorded entry by entry, content included, right after it was made: a
 * later job can tell whether the checkout is still exactly that and use it instead of a
 * fresh copy (no file created or deleted per job).
 */
export interface CheckoutSnapshot {
  entries: SnapshotEntry[];
  bytes: number;
}

export interface SnapshotLimits {
  maxEntries: number;
  maxBytes: number;
}

const DEFAULT_LIMITS: SnapshotLimits = { maxEntries: 96, maxBytes: 1 << 20 };

/**
 * What is compared besides the content. Everything but the access time: a file rewritten
 * with its old content gets a new mtime; chmod, chown and hard links change mode, owner or
 * link count; a replaced file gets another inode; extended attributes and ACLs, and anything
 * else done to an inode, move its change time, which no job can set back.
 */
function metadataOf(stats: BigIntStats): string {
  return [
    stats.mode,
    stats.uid,
    stats.gid,
    stats.size,
    stats.mtimeNs,
    stats.ctimeNs,
    stats.ino,
    stats.nlink,
  ]
    .map(String)
    .join(" ");
}

/** Each entry under `dir` in a stable order; undefined when there are more than `limits` allow. */
function readTree(dir: string, limits: SnapshotLimits): SnapshotEntry[] | undefined {
  const entries: SnapshotEntry[] = [];
  let bytes = 0;
  const visit = (relative: string): boolean => {
    const names = readdirSync(join(dir, relative)).sort();
    for (const name of names) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const full = join(dir, path);
      const stats = lstatSync(full, { bigint: true });
      const entry: SnapshotEntry = { path, stats: metadataOf(stats) };
      entries.push(entry);
      if (entries.length > limits.maxEntries) return false;
      if (stats.isDirectory()) {
        if (!visit(path)) return false;
      } else if (stats.isSymbolicLink()) {
        entry.linkTarget = readlinkSync(full);
      } else if (stats.isFile()) {
        bytes += Number(stats.size);
        if (bytes > limits.maxBytes) return false;
        entry.content = readFileSync(full);
      }
      // Anything else (a fifo, a socket) is compared by metadata alone.
    }
    return true;
  };
  try {
    entries.push({ path: "", stats: metadataOf(lstatSync(dir, { bigint: true })) });
    return visit("") ? entries : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Records the checkout at `dir` (the folder's own metadata included); undefined when it is too
 * big to be worth keeping in memory (then it is never reused).
 */
export function snapshotCheckout(
  dir: string,
  limits: SnapshotLimits = DEFAULT_LIMITS,
): CheckoutSnapshot | undefined {
  const entries = readTree(dir, limits);
  if (entries === undefined) return undefined;
  const bytes = entries.reduce((sum, entry) => sum + (entry.content?.length ?? 0), 0);
  return { entries, bytes };
}

/**
 * True when `dir` holds exactly what the snapshot recorded: the same entries with the same
 * metadata and the same bytes. Timestamps alone would not do: a change within the file
 * system's timestamp granularity after the snapshot leaves them as they were.
 */
export function checkoutUnchanged(dir: string, snapshot: CheckoutSnapshot): boolean {
  const limits = { maxEntries: snapshot.entries.length, maxBytes: snapshot.bytes };
  const now = readTree(dir, limits);
  if (now?.length !== snapshot.entries.length) return false;
  return now.every((entry, i) => {
    const was = snapshot.entries[i];
    return (
      was !== undefined &&
      entry.path === was.path &&
      entry.stats === was.stats &&
      entry.linkTarget === was.linkTarget &&
      (entry.content === undefined
        ? was.content === undefined
        : was.content !== undefined && entry.content.equals(was.content))
    );
  });
}
