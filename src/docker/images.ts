import type { Readable } from "node:stream";

import { DockerApiError, DockerProgressError } from "./docker-errors.ts";
import { encodeFilters } from "./engine-filters.ts";
import type { EngineTransport } from "./engine-transport.ts";
import { parseImageReference, pinnedReference } from "./image-reference.ts";
import { readJsonLines } from "./ndjson.ts";
import { encodeRegistryAuth, type RegistryAuth } from "./registry-auth.ts";
import type { ListOptions, RequestOptions } from "./request-options.ts";

/** One line of pull/push progress, as the engine sends it. */
export interface ImageProgress {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
  aux?: Record<string, unknown>;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Os: string;
  Architecture: string;
  Size: number;
  Config: {
    Entrypoint: string[] | null;
    Cmd: string[] | null;
    Env: string[] | null;
    ExposedPorts?: Record<string, unknown> | null;
    Healthcheck?: { Test?: string[] } | null;
    User: string;
    WorkingDir: string;
    Labels: Record<string, string> | null;
  };
}

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  Labels: Record<string, string> | null;
  Size: number;
  Created: number;
}

export interface ImageTransferOptions extends RequestOptions {
  auth?: RegistryAuth | undefined;
  onProgress?: (progress: ImageProgress) => void;
}

export interface ImageOperations {
  /** Throws DockerApiError with status 404 when the engine does not have it. */
  inspect(reference: string, options?: RequestOptions): Promise<ImageInspect>;
  /** Undefined instead of a 404. */
  find(reference: string, options?: RequestOptions): Promise<ImageInspect | undefined>;
  /**
   * Pulls `reference` (`:latest` when it names no tag, never all tags). Resolves when the pull
   * completed; rejects with the registry's reason, whether the engine answers with an HTTP error
   * or reports it inside the progress stream.
   */
  pull(reference: string, options?: ImageTransferOptions): Promise<void>;
  push(reference: string, options?: ImageTransferOptions): Promise<void>;
  /** Gives `source` the name `target` (`repo[:tag]`). */
  tag(source: string, target: string, options?: RequestOptions): Promise<void>;
  remove(
    reference: string,
    options?: RequestOptions & { force?: boolean; noPrune?: boolean; ignoreMissing?: boolean },
  ): Promise<void>;
  list(options?: ListOptions): Promise<ImageSummary[]>;
}

export function imageOperations(transport: EngineTransport): ImageOperations {
  const inspect: ImageOperations["inspect"] = (reference, options = {}) =>
    transport.json<ImageInspect>({
      method: "GET",
      path: `/images/${encodeURIComponent(reference)}/json`,
      signal: options.signal,
      describeError: ({ status }) =>
        status === 404 ? `image ${reference} is not on this engine` : undefined,
    });

  const followProgress = async (
    verb: "pull" | "push",
    reference: string,
    response: Readable,
    options: ImageTransferOptions,
  ): Promise<void> => {
    for await (const line of readJsonLines<ImageProgress>(response, options.signal)) {
      const message = line.errorDetail?.message ?? line.error;
      if (message !== undefined) {
        throw new DockerProgressError(`cannot ${verb} ${reference}: ${message}`, message);
      }
      options.onProgress?.(line);
    }
  };

  return {
    inspect,

    async find(reference, options = {}) {
      try {
        return await inspect(reference, options);
      } catch (error) {
        if (error instanceof DockerApiError && error.isNotFound) return undefined;
        throw error;
      }
    },

    async pull(reference, options = {}) {
      const pinned = pinnedReference(reference);
      const response = await transport.send({
        method: "POST",
        path: "/images/create",
        query: { fromImage: pinned },
        headers: { "X-Registry-Auth": encodeRegistryAuth(options.auth) },
        signal: options.signal,
        describeError: ({ engineMessage }) => `cannot pull ${pinned}: ${engineMessage}`,
      });
      await followProgress("pull", pinned, response, options);
    },

    async push(reference, options = {}) {
      const parsed = parseImageReference(reference);
      const response = await transport.send({
        method: "POST",
        path: `/images/${encodeURIComponent(parsed.repository)}/push`,
        query: { tag: parsed.tag ?? "latest" },
        headers: { "X-Registry-Auth": encodeRegistryAuth(options.auth) },
        signal: options.signal,
        describeError: ({ status, engineMessage }) =>
          status === 404
            ? `cannot push ${reference}: no such image on this engine`
            : `cannot push ${reference}: ${engineMessage}`,
      });
      await followProgress("push", reference, response, options);
    },

    async tag(source, target, options = {}) {
      const parsed = parseImageReference(target);
      await transport.call({
        method: "POST",
        path: `/images/${encodeURIComponent(source)}/tag`,
        query: { repo: parsed.repository, tag: parsed.tag ?? "latest" },
        signal: options.signal,
        describeError: ({ status }) =>
          status === 404 ? `cannot tag ${source}: the image is not on this engine` : undefined,
      });
    },

    async remove(reference, options = {}) {
      try {
        await transport.call({
          method: "DELETE",
          path: `/images/${encodeURIComponent(reference)}`,
          query: { force: options.force, noprune: options.noPrune },
          signal: options.signal,
          describeError: ({ status, engineMessage }) =>
            status === 404
              ? `image ${reference} is not on this engine`
              : status === 409
                ? `image ${reference} is in use: ${engineMessage}`
                : undefined,
        });
      } catch (error) {
        if (options.ignoreMissing === true && error instanceof DockerApiError && error.isNotFound) {
          return;
        }
        throw error;
      }
    },

    async list(options = {}) {
      return transport.json<ImageSummary[]>({
        method: "GET",
        path: "/images/json",
        query: { filters: encodeFilters(options.filters, options.labels) },
        signal: options.signal,
      });
    },
  };
}
