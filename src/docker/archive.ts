import type { Readable } from "node:stream";

import { shortId } from "./containers.ts";
import { DockerApiError } from "./docker-errors.ts";
import type { EngineFailure, EngineTransport } from "./engine-transport.ts";
import type { RequestOptions } from "./request-options.ts";

/** The engine's stat of a path in a container (X-Docker-Container-Path-Stat). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go's os.FileMode: permission bits plus type bits (dir = 1 << 31). */
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface ArchiveOperations {
  /**
   * Extracts a tar stream into `path` in the container. `path` must be an existing directory;
   * it works on created and stopped containers too (volumes included).
   */
  put(
    containerId: string,
    path: string,
    tar: Readable | Buffer,
    options?: RequestOptions & { noOverwriteDirNonDir?: boolean },
  ): Promise<void>;
  /** `path` (file or directory) as a tar stream; the top entry is the path's base name. */
  get(
    containerId: string,
    path: string,
    options?: RequestOptions,
  ): Promise<{ tar: Readable; stat: ContainerPathStat }>;
  /** Undefined when the path does not exist. */
  stat(
    containerId: string,
    path: string,
    options?: RequestOptions,
  ): Promise<ContainerPathStat | undefined>;
}

export function archiveOperations(transport: EngineTransport): ArchiveOperations {
  const describe =
    (containerId: string, path: string, action: string) =>
    ({ status, engineMessage }: EngineFailure): string | undefined => {
      if (/no such container/i.test(engineMessage)) {
        return `container ${shortId(containerId)} does not exist`;
      }
      if (status === 404) {
        return `cannot ${action} ${path} in container ${shortId(containerId)}: the path does not exist`;
      }
      if (status === 400 && /not a directory/i.test(engineMessage)) {
        return `cannot ${action} ${path} in container ${shortId(containerId)}: not a directory`;
      }
      if (status === 403) {
        return `cannot ${action} ${path} in container ${shortId(containerId)}: the container's filesystem is read-only there`;
      }
      return undefined;
    };

  return {
    async put(containerId, path, tar, options = {}) {
      await transport.call({
        method: "PUT",
        path: `/containers/${encodeURIComponent(containerId)}/archive`,
        query: { path, noOverwriteDirNonDir: options.noOverwriteDirNonDir },
        body: tar,
        contentType: "application/x-tar",
        signal: options.signal,
        describeError: describe(containerId, path, "copy into"),
      });
    },

    async get(containerId, path, options = {}) {
      const response = await transport.send({
        method: "GET",
        path: `/containers/${encodeURIComponent(containerId)}/archive`,
        query: { path },
        signal: options.signal,
        describeError: describe(containerId, path, "copy"),
      });
      return { tar: response, stat: decodeStat(response.headers["x-docker-container-path-stat"]) };
    },

    async stat(containerId, path, options = {}) {
      const response = await transport
        .send({
          method: "HEAD",
          path: `/containers/${encodeURIComponent(containerId)}/archive`,
          query: { path },
          signal: options.signal,
          describeError: describe(containerId, path, "stat"),
        })
        .catch((error: unknown) => {
          if (error instanceof DockerApiError && error.status === 404) return undefined;
          throw error;
        });
      if (response !== undefined) {
        response.resume();
        return decodeStat(response.headers["x-docker-container-path-stat"]);
      }
      // A HEAD answer has no body, so a missing container looks like a missing path: check.
      await transport.call({
        method: "GET",
        path: `/containers/${encodeURIComponent(containerId)}/json`,
        signal: options.signal,
        describeError: () => `container ${shortId(containerId)} does not exist`,
      });
      return undefined;
    },
  };
}

function decodeStat(header: string | string[] | undefined): ContainerPathStat {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined) return { name: "", size: 0, mode: 0, mtime: "", linkTarget: "" };
  return JSON.parse(Buffer.from(text, "base64").toString("utf8")) as ContainerPathStat;
}
