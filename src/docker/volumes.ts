import { DockerApiError } from "./docker-errors.ts";
import { encodeFilters } from "./engine-filters.ts";
import type { EngineTransport } from "./engine-transport.ts";
import type { ListOptions, RequestOptions } from "./request-options.ts";

export interface VolumeCreateConfig {
  /** Omit for an engine-chosen name. */
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

export interface VolumeSummary {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
  CreatedAt?: string;
}

export interface VolumeOperations {
  /** Creating a volume whose name exists returns the existing one (engine behaviour). */
  create(config: VolumeCreateConfig, options?: RequestOptions): Promise<VolumeSummary>;
  /** With `ignoreMissing`, a volume already gone counts as removed. */
  remove(
    name: string,
    options?: RequestOptions & { force?: boolean; ignoreMissing?: boolean },
  ): Promise<void>;
  inspect(name: string, options?: RequestOptions): Promise<VolumeSummary>;
  list(options?: ListOptions): Promise<VolumeSummary[]>;
}

export function volumeOperations(transport: EngineTransport): VolumeOperations {
  return {
    async create(config, options = {}) {
      return transport.json<VolumeSummary>({
        method: "POST",
        path: "/volumes/create",
        json: config,
        signal: options.signal,
      });
    },

    async remove(name, options = {}) {
      try {
        await transport.call({
          method: "DELETE",
          path: `/volumes/${encodeURIComponent(name)}`,
          query: { force: options.force },
          signal: options.signal,
          describeError: ({ status }) =>
            status === 404
              ? `volume ${name} does not exist`
              : status === 409
                ? `volume ${name} is still in use by a container`
                : undefined,
        });
      } catch (error) {
        if (options.ignoreMissing === true && error instanceof DockerApiError && error.isNotFound) {
          return;
        }
        throw error;
      }
    },

    async inspect(name, options = {}) {
      return transport.json<VolumeSummary>({
        method: "GET",
        path: `/volumes/${encodeURIComponent(name)}`,
        signal: options.signal,
        describeError: ({ status }) =>
          status === 404 ? `volume ${name} does not exist` : undefined,
      });
    },

    async list(options = {}) {
      const answer = await transport.json<{ Volumes: VolumeSummary[] | null }>({
        method: "GET",
        path: "/volumes",
        query: { filters: encodeFilters(options.filters, options.labels) },
        signal: options.signal,
      });
      return answer.Volumes ?? [];
    },
  };
}
