import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { constants, crc32, createDeflateRaw } from "node:zlib";
import type { MatchedEntry } from "../storage/path-match.ts";

const FLAG_NAME = 0x08;
const OS_UNIX = 3;

/**
 * Writes report files the way gitlab-runner's "gzip" artifact format does: one gzip member
 * per file, concatenated, each member's header naming the file (its path in the project)
 * and carrying its mtime. GitLab reads junit, dotenv and the other gzip reports this way.
 * Only regular files are written; the content streams through, never held whole.
 */
export async function writeGzipMembers(
  projectDir: string,
  entries: MatchedEntry[],
  destination: string,
  signal?: AbortSignal,
): Promise<{ bytes: number; files: number }> {
  const files = entries.filter((entry) => entry.stats.isFile());
  async function* members(): AsyncGenerator<Buffer> {
    for (const { path, stats } of files) {
      signal?.throwIfAborted();
      yield memberHeader(path, stats.mtime);
      let crc = 0;
      let size = 0;
      const source = createReadStream(join(projectDir, path));
      const deflate = createDeflateRaw({ level: constants.Z_DEFAULT_COMPRESSION });
      source.on("data", (chunk) => {
        crc = crc32(chunk, crc);
        size += (chunk as Buffer).length;
      });
      source.on("error", (error) => deflate.destroy(error));
      source.pipe(deflate);
      for await (const chunk of deflate) yield chunk as Buffer;
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(crc >>> 0, 0);
      trailer.writeUInt32LE(size % 2 ** 32, 4);
      yield trailer;
    }
  }
  await pipeline(
    Readable.from(members()),
    createWriteStream(destination, { flags: "wx" }),
    ...(signal === undefined ? [] : [{ signal }]),
  );
  return { bytes: (await stat(destination)).size, files: files.length };
}

function memberHeader(name: string, mtime: Date): Buffer {
  const fixed = Buffer.alloc(10);
  fixed[0] = 0x1f;
  fixed[1] = 0x8b;
  fixed[2] = 8; // deflate
  fixed[3] = FLAG_NAME;
  fixed.writeUInt32LE(Math.max(0, Math.floor(mtime.getTime() / 1000)) % 2 ** 32, 4);
  fixed[8] = 0;
  fixed[9] = OS_UNIX;
  // RFC 1952: the name is ISO 8859-1, zero-terminated; gitlab-runner writes Go's bytes as they are.
  return Buffer.concat([fixed, Buffer.from(name, "utf8"), Buffer.from([0])]);
}
