import { createWriteStream } from "node:fs";
import {
  chmod,
  lstat,
  mkdir,
  open,
  readlink,
  rename,
  rm,
  symlink,
  unlink,
  utimes,
} from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { basename, dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { pipeline } from "node:stream/promises";
// yazl and yauzl load when a job first archives or extracts: most runs never do.
import { PierError } from "../errors.ts";
import type { MatchedEntry } from "./path-match.ts";

const typeMask = 0o170000;
const directoryType = 0o040000;
const symlinkType = 0o120000;

/**
 * Writes the entries into a zip at `destination` in the shape gitlab-runner produces: paths
 * relative to the project dir, directories as "dir/" entries, unix modes in the external
 * attributes, symlinks stored as links (their target as content). The archive appears under
 * its final name only once complete and flushed to disk, so a concurrent reader sees either
 * the previous archive or the new one, never a partial file.
 */
export async function writeZipAtomically(
  projectDir: string,
  entries: MatchedEntry[],
  destination: string,
  signal?: AbortSignal,
): Promise<{ bytes: number }> {
  const { default: yazl } = await import("yazl");
  const zip = new yazl.ZipFile();
  for (const { path, stats } of entries) {
    const options = { mode: stats.mode & 0xffff, mtime: stats.mtime };
    if (stats.isDirectory()) zip.addEmptyDirectory(path, options);
    else if (stats.isSymbolicLink()) {
      const target = await readlink(join(projectDir, path));
      zip.addBuffer(Buffer.from(target), path, { ...options, compress: false });
    } else if (stats.isFile()) zip.addFile(join(projectDir, path), path, options);
  }
  zip.end();

  await mkdir(dirname(destination), { recursive: true });
  const temporary = join(
    dirname(destination),
    `.${basename(destination)}.${String(process.pid)}.${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    await pipeline(
      zip.outputStream,
      createWriteStream(temporary, { flags: "wx" }),
      ...(signal === undefined ? [] : [{ signal }]),
    );
    const handle = await open(temporary, "r");
    let bytes: number;
    try {
      await handle.sync();
      bytes = (await handle.stat()).size;
    } finally {
      await handle.close();
    }
    await rename(temporary, destination);
    await syncDirectory(dirname(destination));
    return { bytes };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Extracts a zip into `targetDir`, refusing anything that would land outside it: absolute
 * names, "..", and writes through a symlink (an archive may hold a link `a -> /etc` and then
 * an entry `a/passwd`). Existing files are replaced, as gitlab-runner does.
 */
export async function extractZip(
  zipPath: string,
  targetDir: string,
  signal?: AbortSignal,
): Promise<{ entries: number }> {
  const { default: yauzl } = await import("yauzl");
  const zip = await yauzl.openPromise(zipPath, {
    decodeStrings: true,
    validateEntrySizes: true,
    strictFileNames: true,
  });
  const directoryModes: { path: string; mode: number; mtime: Date }[] = [];
  let count = 0;
  try {
    await mkdir(targetDir, { recursive: true });
    for await (const entry of zip.eachEntry()) {
      signal?.throwIfAborted();
      const name = safeEntryName(entry.fileName);
      const destination = join(targetDir, name);
      await assertNoSymlinkBetween(targetDir, name);
      const attributes = entry.externalFileAttributes >>> 16;
      const mtime = entry.getLastModDate();
      const isDirectory = entry.fileName.endsWith("/") || (attributes & typeMask) === directoryType;
      if (isDirectory) {
        await mkdir(destination, { recursive: true });
        if (attributes !== 0)
          directoryModes.push({ path: destination, mode: attributes & 0o7777, mtime });
      } else {
        await mkdir(dirname(destination), { recursive: true });
        await removeExisting(destination);
        const content = await zip.openReadStreamPromise(entry);
        if ((attributes & typeMask) === symlinkType) {
          await symlink((await readAll(content)).toString("utf8"), destination);
        } else {
          await pipeline(
            content,
            createWriteStream(destination, { flags: "wx", mode: 0o600 }),
            ...(signal === undefined ? [] : [{ signal }]),
          );
          await chmod(destination, attributes === 0 ? 0o644 : attributes & 0o7777);
          await utimes(destination, mtime, mtime);
        }
      }
      count++;
    }
  } finally {
    zip.close();
  }
  // Modes last, deepest first: a read-only directory must not block extracting into it.
  for (const { path, mode, mtime } of directoryModes.reverse()) {
    await chmod(path, mode | 0o700);
    await utimes(path, mtime, mtime);
  }
  return { entries: count };
}

function safeEntryName(fileName: string): string {
  const trimmed = fileName.replace(/\/+$/, "");
  const normalised = normalize(trimmed);
  if (
    trimmed === "" ||
    isAbsolute(trimmed) ||
    trimmed.includes("\\") ||
    trimmed.includes("\0") ||
    normalised === ".." ||
    normalised.startsWith(`..${sep}`) ||
    trimmed.split("/").includes("..")
  ) {
    throw new PierError(`refusing archive entry outside the target directory: ${fileName}`);
  }
  return normalised;
}

async function assertNoSymlinkBetween(root: string, name: string): Promise<void> {
  const parts = name.split(sep);
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = join(current, part);
    const stats = await lstat(current).catch(() => undefined);
    if (stats === undefined) return;
    if (stats.isSymbolicLink()) {
      throw new PierError(
        `refusing archive entry through a symlink: ${relative(root, join(root, name))}`,
      );
    }
  }
}

async function removeExisting(path: string): Promise<void> {
  const stats = await lstat(path).catch(() => undefined);
  if (stats === undefined) return;
  if (stats.isDirectory()) await rm(path, { recursive: true, force: true });
  else await unlink(path);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
