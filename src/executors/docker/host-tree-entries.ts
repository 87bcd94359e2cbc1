import { createReadStream, lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import type { TarEntry } from "../../docker/tar-writer.ts";

/**
 * The modes gitlab-runner's helper leaves under `umask 0000`: everyone may write, and execute
 * what its owner may, so a job image whose USER is not root can work in its project directory.
 */
function openToAll(mode: number, isDirectory: boolean): number {
  const executable = isDirectory || (mode & 0o111) !== 0;
  return (mode & 0o7777) | (executable ? 0o777 : 0o666);
}

/**
 * The tree under `hostDir/<entries>` as tar entries (parents before children), with the modes
 * of a checkout made under `umask 0000` and owners and modification times as on disk. Files
 * stream from disk when the archive is written; `inMemory` reads them all first instead.
 * Sockets, devices and FIFOs are left out (a checkout has none).
 */
export function hostTreeEntries(
  hostDir: string,
  entries: string[],
): { entries: TarEntry[]; fileBytes: number; inMemory(): TarEntry[] } {
  const result: TarEntry[] = [];
  const files = new Map<TarEntry, string>();
  let fileBytes = 0;
  // Synchronous: a checkout is many small files, and each asynchronous call would queue in
  // libuv's thread pool behind whatever else the pool is doing.
  const visit = (relative: string): void => {
    const path = join(hostDir, relative);
    const stat = lstatSync(path);
    const common = { path: relative, mtime: stat.mtime, uid: stat.uid, gid: stat.gid };
    if (stat.isDirectory()) {
      result.push({ ...common, type: "directory", mode: openToAll(stat.mode, true) });
      for (const name of readdirSync(path).sort()) visit(`${relative}/${name}`);
    } else if (stat.isSymbolicLink()) {
      result.push({ ...common, type: "symlink", mode: 0o777, linkTarget: readlinkSync(path) });
    } else if (stat.isFile()) {
      const entry: TarEntry = {
        ...common,
        type: "file",
        mode: openToAll(stat.mode, false),
        source: { size: stat.size, open: () => createReadStream(path) },
      };
      files.set(entry, path);
      fileBytes += stat.size;
      result.push(entry);
    }
  };
  for (const entry of entries) visit(entry.replace(/^\/+|\/+$/g, ""));
  return {
    entries: result,
    fileBytes,
    inMemory: () =>
      result.map((entry) => {
        const path = files.get(entry);
        if (path === undefined) return entry;
        const { source: _source, ...rest } = entry;
        return { ...rest, content: readFileSync(path) };
      }),
  };
}
