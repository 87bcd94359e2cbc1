import { encodeFilters } from "./engine-filters.ts";
import type { EngineTransport } from "./engine-transport.ts";
import { readJsonLines } from "./ndjson.ts";
import type { ListOptions } from "./request-options.ts";

export interface DockerEvent {
  /** container, network, volume, image, daemon, plugin… */
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope?: string;
  time: number;
  timeNano: number;
}

export interface EventOperations {
  /**
   * Subscribes to the engine's events. Resolves once the engine has accepted the subscription
   * (nothing after that is missed); iterate the result, and abort the signal (or `break`) to stop.
   * `since`/`until` are Unix seconds; with `until` the stream ends by itself.
   */
  subscribe(
    options?: ListOptions & { since?: number; until?: number },
  ): Promise<AsyncIterable<DockerEvent>>;
}

export function eventOperations(transport: EngineTransport): EventOperations {
  return {
    async subscribe(options = {}) {
      const response = await transport.send({
        method: "GET",
        path: "/events",
        query: {
          since: options.since,
          until: options.until,
          filters: encodeFilters(options.filters, options.labels),
        },
        signal: options.signal,
      });
      return readJsonLines<DockerEvent>(response, options.signal);
    },
  };
}
