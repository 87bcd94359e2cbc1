import { mkdir } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create, extract, type WriteEntry } from "tar";
import type { DockerClient } from "../../docker/docker-client.ts";
import { DockerApiError } from "../../docker/docker-errors.ts";

/**
 * The modes gitlab-runner's helper leaves under `umask 0000`: everyone may write, and execute
 * what its owner may, so a job image whose USER is not root can work in its project directory.
 */
function openToAll(entry: WriteEntry): void {
  const { stat } = entry;
  if (stat === undefined || stat.isSymbolicLink()) return;
  const executable = stat.isDirectory() || (stat.mode & 0o111) !== 0;
  stat.mode |= executable ? 0o777 : 0o666;
}

/**
 * Sends `entries` (paths relative to `hostDir`) into the container under `containerPath`, in
 * one archive call, with the modes of a checkout made under `umask 0000` (the engine makes the
 * files root's: docker cp without `copyUIDGID`).
 */
export async function putHostTree(o: {
  docker: DockerClient;
  containerId: string;
  hostDir: string;
  entries: string[];
  containerPath: string;
  signal: AbortSignal;
}): Promise<void> {
  const tar = create({ cwd: o.hostDir, noMtime: false, onWriteEntry: openToAll }, o.entries);
  await o.docker.archive.put(o.containerId, o.containerPath, Readable.from(tar), {
    signal: o.signal,
  });
}

/**
 * Copies a container directory's content into `hostDir` (created when missing). Returns false
 * when the path does not exist in the container.
 */
export async function getContainerTree(o: {
  docker: DockerClient;
  containerId: string;
  containerPath: string;
  hostDir: string;
  signal: AbortSignal;
}): Promise<boolean> {
  let archive;
  try {
    archive = await o.docker.archive.get(o.containerId, o.containerPath, { signal: o.signal });
  } catch (error) {
    if (error instanceof DockerApiError && error.isNotFound) return false;
    throw error;
  }
  await mkdir(o.hostDir, { recursive: true });
  // The archive's top entry is the directory itself: strip it so its content lands in hostDir.
  await pipeline(archive.tar, extract({ cwd: o.hostDir, strip: 1 }), { signal: o.signal });
  return true;
}
