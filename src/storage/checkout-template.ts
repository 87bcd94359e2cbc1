import { createHash } from "node:crypto";
import {
  constants,
  copyFileSync,
  lstatSync,
  mkdirSync,
  symlinkSync,
  writeFileSync,
  type BigIntStats,
} from "node:fs";
import {
  copyFile,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { readGitIndex } from "./git-index.ts";

/** A file of the template: where it is, and whether it is a symbolic link (and to what). */
interface TemplateFile {
  path: string;
  linkTarget?: string;
}

/**
 * A finished checkout (work tree and .git) that per-job checkouts are copied from, so that no
 * git process runs per job. The index is rewritten for each copy with the copy's own stat
 * data, so that git finds the copy clean without reading its files.
 */
export interface CheckoutTemplate {
  dir: string;
  /** Folders, parents before children (relative paths). */
  dirs: string[];
  files: TemplateFile[];
  /** The index as git wrote it for the template. */
  index: Buffer;
  /** Offset in `index` of each entry's stat data, by path. */
  statOffsets: Map<string, number>;
}

const hashLength = 20;

/**
 * Reads the template at `dir`. Paths in `stale` (the working tree changes copied over the
 * commit) keep stat data that never matches, so git sees them as modified, as they are.
 * Undefined when the index is one this reader does not rewrite (version 4, split or sparse
 * index, another hash): the caller then checks out with git.
 */
export async function loadCheckoutTemplate(
  dir: string,
  stale: ReadonlySet<string>,
): Promise<CheckoutTemplate | undefined> {
  const index = await readFile(join(dir, ".git", "index")).catch(() => undefined);
  if (index === undefined) return undefined;
  const statOffsets = readIndexEntries(index);
  if (statOffsets === undefined) return undefined;
  for (const path of stale) {
    const offset = statOffsets.get(path);
    // Everything but the mode (at 24), which says what the entry is.
    if (offset !== undefined) index.fill(0, offset, offset + 24).fill(0, offset + 28, offset + 40);
    statOffsets.delete(path);
  }
  const dirs: string[] = [];
  const files: TemplateFile[] = [];
  await walk(dir, "", dirs, files);
  return { dir, dirs, files, index, statOffsets };
}

/** Copies the template to `target` (which must not exist) with an index valid for the copy. */
export async function copyCheckoutTemplate(
  template: CheckoutTemplate,
  target: string,
): Promise<void> {
  const index = Buffer.from(template.index);
  if (template.files.length <= smallTemplate) {
    copySmallTemplate(template, target, index);
    return;
  }
  await mkdir(target, { recursive: true });
  for (const dir of template.dirs) await mkdir(join(target, dir));
  await inBatches(template.files, 32, async ({ path, linkTarget }) => {
    const destination = join(target, path);
    if (linkTarget !== undefined) await symlink(linkTarget, destination);
    // A reflink where the file system can, a copy in the kernel otherwise.
    else await copyFile(join(template.dir, path), destination, constants.COPYFILE_FICLONE);
    const offset = template.statOffsets.get(path);
    if (offset !== undefined) writeStat(index, offset, await lstat(destination, { bigint: true }));
  });
  sealIndex(index);
  await writeFile(join(target, ".git", "index"), index);
}

/**
 * Small checkouts are copied with synchronous calls: tens of microseconds each, where a trip
 * through libuv's thread pool costs milliseconds when the machine is busy.
 */
const smallTemplate = 64;

function copySmallTemplate(template: CheckoutTemplate, target: string, index: Buffer): void {
  mkdirSync(target, { recursive: true });
  for (const dir of template.dirs) mkdirSync(join(target, dir));
  for (const { path, linkTarget } of template.files) {
    const destination = join(target, path);
    if (linkTarget !== undefined) symlinkSync(linkTarget, destination);
    else copyFileSync(join(template.dir, path), destination, constants.COPYFILE_FICLONE);
    const offset = template.statOffsets.get(path);
    if (offset !== undefined) writeStat(index, offset, lstatSync(destination, { bigint: true }));
  }
  sealIndex(index);
  writeFileSync(join(target, ".git", "index"), index);
}

/** The index ends with the SHA-1 of everything before it. */
function sealIndex(index: Buffer): void {
  const body = index.subarray(0, index.length - hashLength);
  createHash("sha1")
    .update(body)
    .digest()
    .copy(index, index.length - hashLength);
}

async function walk(
  root: string,
  relative: string,
  dirs: string[],
  files: TemplateFile[],
): Promise<void> {
  const entries = await readdir(join(root, relative), { withFileTypes: true });
  for (const entry of entries) {
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
    if (path === ".git/index") continue;
    if (entry.isDirectory()) {
      dirs.push(path);
      await walk(root, path, dirs, files);
    } else if (entry.isSymbolicLink()) {
      files.push({ path, linkTarget: await readlink(join(root, path)) });
    } else if (entry.isFile()) {
      files.push({ path });
    }
  }
}

/** The stat data offset of each entry of a version 2 or 3 index; undefined for anything else. */
function readIndexEntries(index: Buffer): Map<string, number> | undefined {
  const entries = readGitIndex(index)?.entries;
  if (entries === undefined) return undefined;
  const offsets = new Map<string, number>();
  for (const entry of entries) {
    // Submodules (gitlinks) keep their entry as git wrote it.
    if (entry.mode >>> 12 !== 0o16) offsets.set(entry.path, entry.offset);
  }
  return offsets;
}

/** Writes ctime, mtime, dev, ino, mode, uid, gid and size the way git stores them (32 bits). */
function writeStat(index: Buffer, offset: number, stats: BigIntStats): void {
  const low = (value: bigint): number => Number(value & 0xffffffffn);
  const fields = [
    stats.ctimeNs / 1_000_000_000n,
    stats.ctimeNs % 1_000_000_000n,
    stats.mtimeNs / 1_000_000_000n,
    stats.mtimeNs % 1_000_000_000n,
    stats.dev,
    stats.ino,
  ];
  fields.forEach((value, i) => index.writeUInt32BE(low(value), offset + i * 4));
  // Mode stays git's (normalised 100644/100755/120000).
  index.writeUInt32BE(low(stats.uid), offset + 28);
  index.writeUInt32BE(low(stats.gid), offset + 32);
  index.writeUInt32BE(low(stats.size), offset + 36);
}

async function inBatches<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      if (item !== undefined) await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
