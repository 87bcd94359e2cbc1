import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { inflateSync } from "node:zlib";

export type GitObjectType = "commit" | "tree" | "blob" | "tag";

export interface GitObject {
  type: GitObjectType;
  data: Buffer;
}

const packedTypes: readonly (GitObjectType | undefined)[] = [
  undefined,
  "commit",
  "tree",
  "blob",
  "tag",
];
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Larger objects are not what this reader is for (commits): git reads them. */
const MAX_OBJECT_SIZE = 64 * 1024 * 1024;
/** Deeper than any chain git writes (`--depth` 4095 at most); stops a corrupt pack's loops. */
const MAX_DELTA_CHAIN = 10_000;
/** git's own limit on alternates that name further alternates. */
const MAX_ALTERNATE_DEPTH = 5;

const IDX_HEADER = 8;
const IDX_FANOUT = 256 * 4;
const IDX_NAMES_START = IDX_HEADER + IDX_FANOUT;

class UnreadableObject extends Error {}

function fail(why: string): never {
  throw new UnreadableObject(why);
}

function byteAt(buffer: Buffer, index: number): number {
  return buffer[index] ?? fail("truncated data");
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  const read = readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, read);
}

function readExactly(fd: number, position: number, length: number): Buffer {
  const buffer = readAt(fd, position, length);
  if (buffer.length !== length) fail("truncated file");
  return buffer;
}

/** The objects directory and, recursively, those its `info/alternates` names. */
function objectDirectories(objectsDir: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number): void => {
    if (found.includes(dir)) return;
    found.push(dir);
    const alternatesFile = join(dir, "info", "alternates");
    if (!existsSync(alternatesFile)) return;
    const alternates = readFileSync(alternatesFile, "utf8");
    if (depth >= MAX_ALTERNATE_DEPTH) fail("alternates nested too deeply");
    for (const line of alternates.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      // A quoted path uses C escapes: leave it to git.
      if (line.startsWith('"')) fail("quoted alternate");
      visit(isAbsolute(line) ? line : resolve(dir, line), depth + 1);
    }
  };
  visit(objectsDir, 0);
  return found;
}

function splitLooseObject(raw: Buffer): GitObject {
  // A loop, not indexOf: Buffer#indexOf's first call costs more than this whole header.
  let nul = 0;
  while (nul < raw.length && nul < 32 && raw[nul] !== 0) nul++;
  if (raw[nul] !== 0) nul = -1;
  const header = /^(commit|tree|blob|tag) (\d+)$/.exec(raw.toString("latin1", 0, Math.max(nul, 0)));
  const data = raw.subarray(nul + 1);
  if (nul < 0 || header?.[1] === undefined || Number(header[2]) !== data.length) {
    fail("corrupt loose object");
  }
  return { type: header[1] as GitObjectType, data };
}

function readLooseObject(dir: string, sha: string): GitObject | undefined {
  const path = join(dir, sha.slice(0, 2), sha.slice(2));
  if (!existsSync(path)) return undefined;
  const compressed = readFileSync(path);
  return splitLooseObject(inflate(compressed, undefined));
}

/** The zlib stream at the start of `compressed` (`size` bytes when known). */
function inflate(compressed: Buffer, size: number | undefined): Buffer {
  const limit = size ?? MAX_OBJECT_SIZE + 64;
  return inflateSync(compressed, { maxOutputLength: limit + 1 });
}

/**
 * Inflates the zlib stream that starts at `position` and holds `size` bytes. The compressed
 * length is not recorded: read a little more than deflate can need, more when that was short.
 */
function inflateAt(fd: number, position: number, size: number): Buffer {
  if (size > MAX_OBJECT_SIZE) fail("object too large");
  let window = size + (size >>> 10) + 64;
  for (;;) {
    const compressed = readAt(fd, position, window);
    try {
      const data = inflate(compressed, size);
      if (data.length !== size) fail("object size does not match its header");
      return data;
    } catch (error) {
      const truncated = (error as { code?: unknown }).code === "Z_BUF_ERROR";
      if (!truncated || compressed.length < window) throw error;
      window *= 2;
    }
  }
}

/** git's delta format: copies from the base and inserted bytes, sizes checked. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let at = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      byte = byteAt(delta, at++);
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    return value;
  };
  if (varint() !== base.length) fail("delta base size differs");
  const size = varint();
  if (size > MAX_OBJECT_SIZE) fail("object too large");
  const out = Buffer.allocUnsafe(size);
  let written = 0;
  while (at < delta.length) {
    const op = byteAt(delta, at++);
    if (op & 0x80) {
      let offset = 0;
      let length = 0;
      for (let bit = 0; bit < 4; bit++) {
        if (op & (1 << bit)) offset += byteAt(delta, at++) * 2 ** (8 * bit);
      }
      for (let bit = 0; bit < 3; bit++) {
        if (op & (0x10 << bit)) length += byteAt(delta, at++) * 2 ** (8 * bit);
      }
      if (length === 0) length = 0x10000;
      if (offset + length > base.length || written + length > size) fail("delta copy out of range");
      base.copy(out, written, offset, offset + length);
      written += length;
    } else if (op !== 0) {
      if (at + op > delta.length || written + op > size) fail("delta insert out of range");
      delta.copy(out, written, at, at + op);
      at += op;
      written += op;
    } else fail("reserved delta opcode");
  }
  if (written !== size) fail("delta result size differs");
  return out;
}

interface PackEntry {
  type: number;
  size: number;
  dataStart: number;
  baseOffset?: number;
  baseSha?: string;
}

function readPackEntry(fd: number, offset: number): PackEntry {
  const header = readAt(fd, offset, 64);
  let at = 0;
  let byte = byteAt(header, at++);
  const type = (byte >> 4) & 7;
  let size = byte & 15;
  let scale = 16;
  while (byte & 0x80) {
    byte = byteAt(header, at++);
    size += (byte & 0x7f) * scale;
    scale *= 128;
  }
  if (type === OFS_DELTA) {
    byte = byteAt(header, at++);
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      byte = byteAt(header, at++);
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    // The base comes before the delta, after the 12-byte pack header.
    if (distance <= 0 || distance > offset - 12) fail("delta base outside the pack");
    return { type, size, dataStart: offset + at, baseOffset: offset - distance };
  }
  if (type === REF_DELTA) {
    if (header.length < at + 20) fail("truncated delta base name");
    const baseSha = header.toString("hex", at, at + 20);
    return { type, size, dataStart: offset + at + 20, baseSha };
  }
  return { type, size, dataStart: offset + at };
}

/** An open pack and its index; lookups read only the few index bytes they need. */
interface Pack {
  idx: number;
  pack: number | undefined;
  count: number;
  fanout: Buffer;
  path: string;
}

/**
 * Reads objects by SHA-1 from a repository's object store: loose objects, then version-2 pack
 * indexes and their packs (deltas resolved), then alternates. Files stay open until close().
 */
class ObjectStore {
  readonly #directories: string[];
  #packs: Pack[] | undefined;
  readonly #opened: number[] = [];

  constructor(objectsDir: string) {
    this.#directories = objectDirectories(objectsDir);
  }

  read(sha: string, depth = 0): GitObject | undefined {
    if (depth > MAX_DELTA_CHAIN) fail("delta chain too long");
    for (const dir of this.#directories) {
      const loose = readLooseObject(dir, sha);
      if (loose !== undefined) return loose;
    }
    const name = Buffer.from(sha, "hex");
    for (const pack of this.#openPacks()) {
      const offset = this.#lookup(pack, name);
      if (offset !== undefined) return this.#readPacked(pack, offset, depth);
    }
    return undefined;
  }

  close(): void {
    for (const fd of this.#opened.splice(0)) closeSync(fd);
  }

  #open(path: string): number {
    const fd = openSync(path, "r");
    this.#opened.push(fd);
    return fd;
  }

  #openPacks(): Pack[] {
    if (this.#packs !== undefined) return this.#packs;
    this.#packs = [];
    for (const dir of this.#directories) {
      const packDir = join(dir, "pack");
      if (!existsSync(packDir)) continue;
      const names = readdirSync(packDir);
      for (const name of names.filter((n) => /^pack-[0-9a-f]{40}\.idx$/.test(n)).sort()) {
        const path = join(dir, "pack", name.slice(0, -4));
        const idx = this.#open(`${path}.idx`);
        const header = readExactly(idx, 0, IDX_NAMES_START);
        if (header.readUInt32BE(0) !== 0xff744f63 || header.readUInt32BE(4) !== 2) {
          fail("unsupported pack index version");
        }
        const fanout = header.subarray(IDX_HEADER);
        this.#packs.push({
          idx,
          pack: undefined,
          count: fanout.readUInt32BE(255 * 4),
          fanout,
          path,
        });
      }
    }
    return this.#packs;
  }

  /** The object's offset in the pack, by binary search within its first byte's fan-out slot. */
  #lookup(pack: Pack, name: Buffer): number | undefined {
    const first = byteAt(name, 0);
    const low = first === 0 ? 0 : pack.fanout.readUInt32BE((first - 1) * 4);
    const high = pack.fanout.readUInt32BE(first * 4);
    if (low > high || high > pack.count) fail("corrupt pack index fan-out");
    if (low === high) return undefined;
    const names = readExactly(pack.idx, IDX_NAMES_START + low * 20, (high - low) * 20);
    let from = 0;
    let to = high - low;
    while (from < to) {
      const middle = (from + to) >>> 1;
      const order = name.compare(names, middle * 20, middle * 20 + 20);
      if (order === 0) return this.#offsetAt(pack, low + middle);
      if (order < 0) to = middle;
      else from = middle + 1;
    }
    return undefined;
  }

  #offsetAt(pack: Pack, index: number): number {
    const offsets = IDX_NAMES_START + pack.count * 24;
    const small = readExactly(pack.idx, offsets + index * 4, 4).readUInt32BE(0);
    if ((small & 0x80000000) === 0) return small;
    const largeAt = offsets + pack.count * 4 + (small & 0x7fffffff) * 8;
    const large = readExactly(pack.idx, largeAt, 8).readBigUInt64BE(0);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) fail("pack offset too large");
    return Number(large);
  }

  #packFile(pack: Pack): number {
    if (pack.pack === undefined) {
      const fd = this.#open(`${pack.path}.pack`);
      const header = readExactly(fd, 0, 12);
      const version = header.readUInt32BE(4);
      if (header.toString("latin1", 0, 4) !== "PACK" || (version !== 2 && version !== 3)) {
        fail("unsupported pack version");
      }
      pack.pack = fd;
    }
    return pack.pack;
  }

  #readPacked(pack: Pack, offset: number, depth: number): GitObject {
    const fd = this.#packFile(pack);
    const deltas: Buffer[] = [];
    let at = offset;
    let base: GitObject | undefined;
    while (base === undefined) {
      if (deltas.length > MAX_DELTA_CHAIN) fail("delta chain too long");
      const entry = readPackEntry(fd, at);
      const type = packedTypes[entry.type];
      if (type !== undefined) {
        base = { type, data: inflateAt(fd, entry.dataStart, entry.size) };
      } else if (entry.baseOffset !== undefined) {
        deltas.push(inflateAt(fd, entry.dataStart, entry.size));
        at = entry.baseOffset;
      } else if (entry.baseSha !== undefined) {
        deltas.push(inflateAt(fd, entry.dataStart, entry.size));
        base = this.read(entry.baseSha, depth + deltas.length) ?? fail("delta base missing");
      } else fail("unknown pack entry type");
    }
    let data = base.data;
    for (let index = deltas.length - 1; index >= 0; index--) {
      data = applyDelta(data, deltas[index] ?? fail("missing delta"));
    }
    return { type: base.type, data };
  }
}

/** Reads an object by name; undefined when the store does not have it. */
export type ObjectReader = (sha: string) => GitObject | undefined;

/**
 * Runs `use` with a reader of the object store at `objectsDir` (a repository's `objects`
 * folder) and its alternates, read with node:fs and node:zlib; pack files stay open until it
 * returns. Undefined when `use` gives undefined or anything cannot be read as git writes it
 * (corrupt data, an unsupported index or pack version, …): then ask git.
 */
export function withObjectStore<T>(
  objectsDir: string,
  use: (read: ObjectReader) => T | undefined,
): T | undefined {
  let store: ObjectStore | undefined;
  try {
    const opened = new ObjectStore(objectsDir);
    store = opened;
    return use((sha) => (/^[0-9a-f]{40}$/.test(sha) ? opened.read(sha) : undefined));
  } catch {
    return undefined;
  } finally {
    try {
      store?.close();
    } catch {
      // Closing a file that was only read cannot lose anything.
    }
  }
}

/** The objects named by `shas`, or undefined when one cannot be read (see withObjectStore). */
export function readGitObjects(
  objectsDir: string,
  shas: readonly string[],
): GitObject[] | undefined {
  return withObjectStore(objectsDir, (read) => {
    const objects: GitObject[] = [];
    for (const sha of shas) {
      const object = read(sha);
      if (object === undefined) return undefined;
      objects.push(object);
    }
    return objects;
  });
}

/** readGitObjects of one object. */
export function readGitObject(objectsDir: string, sha: string): GitObject | undefined {
  return readGitObjects(objectsDir, [sha])?.[0];
}
