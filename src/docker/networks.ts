import { DockerApiError } from "./docker-errors.ts";
import { encodeFilters } from "./engine-filters.ts";
import type { EngineTransport } from "./engine-transport.ts";
import type { ListOptions, RequestOptions } from "./request-options.ts";

export interface NetworkCreateConfig {
  Name: string;
  Driver?: string;
  /** No route out of the network. */
  Internal?: boolean;
  Attachable?: boolean;
  Labels?: Record<string, string>;
  Options?: Record<string, string>;
  EnableIPv6?: boolean;
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Internal: boolean;
  Attachable: boolean;
  Labels: Record<string, string> | null;
  Containers?: Record<string, { Name: string; IPv4Address: string }>;
}

export interface NetworkOperations {
  /** Returns the network id. The engine refuses a second network of the same name. */
  create(config: NetworkCreateConfig, options?: RequestOptions): Promise<string>;
  /** With `ignoreMissing`, a network already gone counts as removed. */
  remove(id: string, options?: RequestOptions & { ignoreMissing?: boolean }): Promise<void>;
  connect(
    networkId: string,
    containerId: string,
    options?: RequestOptions & { aliases?: string[] },
  ): Promise<void>;
  disconnect(
    networkId: string,
    containerId: string,
    options?: RequestOptions & { force?: boolean },
  ): Promise<void>;
  inspect(id: string, options?: RequestOptions): Promise<NetworkSummary>;
  list(options?: ListOptions): Promise<NetworkSummary[]>;
}

export function networkOperations(transport: EngineTransport): NetworkOperations {
  const missing =
    (id: string) =>
    ({ status, engineMessage }: { status: number; engineMessage: string }): string | undefined =>
      status === 404
        ? /container/i.test(engineMessage)
          ? engineMessage
          : `network ${id} does not exist`
        : undefined;

  return {
    async create(config, options = {}) {
      const created = await transport.json<{ Id: string }>({
        method: "POST",
        path: "/networks/create",
        json: { CheckDuplicate: true, Driver: "bridge", ...config },
        signal: options.signal,
        describeError: ({ status }) =>
          status === 409 ? `a network named ${config.Name} already exists` : undefined,
      });
      return created.Id;
    },

    async remove(id, options = {}) {
      try {
        await transport.call({
          method: "DELETE",
          path: `/networks/${encodeURIComponent(id)}`,
          signal: options.signal,
          describeError: ({ status, engineMessage }) =>
            status === 404
              ? `network ${id} does not exist`
              : /active endpoints/i.test(engineMessage)
                ? `network ${id} still has containers attached`
                : undefined,
        });
      } catch (error) {
        if (options.ignoreMissing === true && error instanceof DockerApiError && error.isNotFound) {
          return;
        }
        throw error;
      }
    },

    async connect(networkId, containerId, options = {}) {
      await transport.call({
        method: "POST",
        path: `/networks/${encodeURIComponent(networkId)}/connect`,
        json: {
          Container: containerId,
          EndpointConfig: options.aliases === undefined ? {} : { Aliases: options.aliases },
        },
        signal: options.signal,
        describeError: missing(networkId),
      });
    },

    async disconnect(networkId, containerId, options = {}) {
      await transport.call({
        method: "POST",
        path: `/networks/${encodeURIComponent(networkId)}/disconnect`,
        json: { Container: containerId, Force: options.force ?? false },
        signal: options.signal,
        describeError: missing(networkId),
      });
    },

    async inspect(id, options = {}) {
      return transport.json<NetworkSummary>({
        method: "GET",
        path: `/networks/${encodeURIComponent(id)}`,
        signal: options.signal,
        describeError: missing(id),
      });
    },

    async list(options = {}) {
      return transport.json<NetworkSummary[]>({
        method: "GET",
        path: "/networks",
        query: { filters: encodeFilters(options.filters, options.labels) },
        signal: options.signal,
      });
    },
  };
}
