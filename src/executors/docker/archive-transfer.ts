import { mkdir } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import type { DockerClient } from "../../docker/docker-client.ts";
import { DockerApiError } from "../../docker/docker-errors.ts";
import { packTar, packTarToBuffer } from "../../docker/tar-writer.ts";
import { hostTreeEntries } from "./host-tree-entries.ts";

/** Archives up to this size are built in memory and sent in one piece. */
export const IN_MEMORY_ARCHIVE_BYTES = 8 * 1024 * 1024;

/**
 * Sends `entries` (paths relative to `hostDir`) into the container under `containerPath`, in
 * one archive call, with the modes of a checkout made under `umask 0000` (see hostTreeEntries).
 */
export async function putHostTree(o: {
  docker: DockerClient;
  containerId: string;
  hostDir: string;
  entries: string[];
  containerPath: string;
  signal: AbortSignal;
}): Promise<void> {
  const tree = hostTreeEntries(o.hostDir, o.entries);
  // A small tree goes in one write, the way the engine reads it fastest.
  const archive =
    tree.fileBytes <= IN_MEMORY_ARCHIVE_BYTES
      ? await packTarToBuffer(tree.inMemory())
      : packTar(tree.entries);
  await o.docker.archive.put(o.containerId, o.containerPath, archive, { signal: o.signal });
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
  // node-tar loads only when something is copied out (artifacts, caches).
  const { extract } = await import("tar");
  // The archive's top entry is the directory itself: strip it so its content lands in hostDir.
  await pipeline(archive.tar, extract({ cwd: o.hostDir, strip: 1 }), { signal: o.signal });
  return true;
}
