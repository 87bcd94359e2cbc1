import type { Readable } from "node:stream";

const BLOCK = 512;

export interface TarFileEntry {
  path: string;
  type: "file" | "directory" | "symlink" | "hardlink" | "other";
  mode: number;
  mtime: Date;
  uid: number;
  gid: number;
  size: number;
  linkTarget: string;
  /** The whole content, in memory. */
  content: Buffer;
}

/**
 * Reads a tar stream (ustar, PAX and GNU long names) entry by entry, each entry's content in
 * memory. Meant for small archives (files read back from a container); extract large ones to
 * disk with the `tar` package instead.
 */
export async function* readTar(stream: Readable): AsyncGenerator<TarFileEntry, void, undefined> {
  const reader = new ByteReader(stream);
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  let gnuLongName: string | undefined;
  let gnuLongLink: string | undefined;
  try {
    for (;;) {
      const block = await reader.read(BLOCK);
      if (block === undefined || block.every((byte) => byte === 0)) return;
      const typeFlag = String.fromCharCode(block[156] ?? 0);
      const size = readNumber(block, 124, 12);
      const body = await reader.read(size);
      if (body === undefined) throw new Error("tar stream ends inside an entry");
      await reader.read((BLOCK - (size % BLOCK)) % BLOCK);

      if (typeFlag === "x") {
        pax = parsePax(body);
        continue;
      }
      if (typeFlag === "g") {
        globalPax = { ...globalPax, ...parsePax(body) };
        continue;
      }
      if (typeFlag === "L") {
        gnuLongName = cString(body);
        continue;
      }
      if (typeFlag === "K") {
        gnuLongLink = cString(body);
        continue;
      }
      const attributes = { ...globalPax, ...pax };
      const prefix = block.subarray(257, 263).toString("ascii").startsWith("ustar")
        ? cString(block.subarray(345, 500))
        : "";
      const shortName = cString(block.subarray(0, 100));
      const path =
        attributes.path ?? gnuLongName ?? (prefix === "" ? shortName : `${prefix}/${shortName}`);
      const linkTarget = attributes.linkpath ?? gnuLongLink ?? cString(block.subarray(157, 257));
      pax = {};
      gnuLongName = undefined;
      gnuLongLink = undefined;
      yield {
        path,
        type:
          typeFlag === "0" || typeFlag === "\u0000" || typeFlag === "7"
            ? "file"
            : typeFlag === "5"
              ? "directory"
              : typeFlag === "2"
                ? "symlink"
                : typeFlag === "1"
                  ? "hardlink"
                  : "other",
        mode: readNumber(block, 100, 8),
        uid: readNumber(block, 108, 8),
        gid: readNumber(block, 116, 8),
        mtime: new Date(
          (attributes.mtime !== undefined ? Number(attributes.mtime) : readNumber(block, 136, 12)) *
            1000,
        ),
        size,
        linkTarget,
        content: body,
      };
    }
  } finally {
    stream.destroy();
  }
}

/** Octal text, or GNU base-256 when the high bit of the first byte is set. */
function readNumber(block: Buffer, offset: number, length: number): number {
  const field = block.subarray(offset, offset + length);
  if (((field[0] ?? 0) & 0x80) !== 0) {
    let value = (field[0] ?? 0) & 0x7f;
    for (let index = 1; index < field.length; index++) value = value * 256 + (field[index] ?? 0);
    return value;
  }
  const text = cString(field).trim();
  return text === "" ? 0 : parseInt(text, 8);
}

function cString(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString("utf8");
}

function parsePax(body: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number(body.subarray(offset, space).toString("ascii"));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = body.subarray(space + 1, offset + length - 1).toString("utf8");
    const equals = record.indexOf("=");
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return records;
}

/** Exact-size reads over a stream's chunks. */
class ByteReader {
  readonly #iterator: AsyncIterator<unknown>;
  #buffered: Buffer[] = [];
  #length = 0;
  #done = false;

  constructor(stream: Readable) {
    this.#iterator = stream[Symbol.asyncIterator]();
  }

  async read(size: number): Promise<Buffer | undefined> {
    while (this.#length < size && !this.#done) {
      const next = await this.#iterator.next();
      if (next.done === true) {
        this.#done = true;
        break;
      }
      const chunk = next.value as Buffer;
      this.#buffered.push(chunk);
      this.#length += chunk.length;
    }
    if (this.#length < size) return undefined;
    const all =
      this.#buffered.length === 1 ? (this.#buffered[0] as Buffer) : Buffer.concat(this.#buffered);
    const result = all.subarray(0, size);
    const rest = all.subarray(size);
    this.#buffered = rest.length > 0 ? [rest] : [];
    this.#length = rest.length;
    return result;
  }
}
