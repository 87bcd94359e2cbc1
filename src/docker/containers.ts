import type { Readable } from "node:stream";

import type {
  ContainerCreateConfig,
  ContainerExit,
  ContainerInspect,
  ContainerSummary,
} from "./container-types.ts";
import { DockerApiError } from "./docker-errors.ts";
import { encodeFilters } from "./engine-filters.ts";
import type { EngineTransport } from "./engine-transport.ts";
import { type HijackedStreams, wrapHijackedSocket } from "./hijacked-streams.ts";
import type { ListOptions, RequestOptions } from "./request-options.ts";
import { demultiplex, type DemultiplexedOutput } from "./stream-demultiplexer.ts";

export type WaitCondition = "not-running" | "next-exit" | "removed";

/** A wait the engine has registered; `exit` settles when the condition is met. */
export interface PendingWait {
  exit: Promise<ContainerExit>;
}

export interface ContainerOperations {
  create(
    config: ContainerCreateConfig,
    options?: RequestOptions & { name?: string },
  ): Promise<{ Id: string; Warnings: string[] }>;
  start(id: string, options?: RequestOptions): Promise<void>;
  /**
   * Attaches before or after start (hijacked connection). Attach before start to miss nothing,
   * with `stdin: true` for a container created with OpenStdin/StdinOnce/AttachStdin.
   */
  attach(id: string, options?: RequestOptions & { stdin?: boolean }): Promise<HijackedStreams>;
  /**
   * Resolves once the engine has registered the wait, so a container started afterwards cannot
   * exit unseen. Use `next-exit` before start, `not-running` after.
   */
  beginWait(
    id: string,
    options?: RequestOptions & { condition?: WaitCondition },
  ): Promise<PendingWait>;
  wait(
    id: string,
    options?: RequestOptions & { condition?: WaitCondition },
  ): Promise<ContainerExit>;
  /**
   * Runs a created (or exited) container with nothing missed: attach, register a `next-exit`
   * wait, then start. Feed `streams.stdin` when `stdin` is set (container created with
   * OpenStdin/StdinOnce/AttachStdin), read both outputs, and await `exit`. Aborting the signal
   * tears the streams and the wait down; the container itself is left to the caller.
   */
  startAttached(
    id: string,
    options?: RequestOptions & { stdin?: boolean },
  ): Promise<{ streams: HijackedStreams; exit: Promise<ContainerExit> }>;
  /** Sends a signal (default SIGKILL). A container that is not running is left as it is. */
  kill(id: string, options?: RequestOptions & { killSignal?: string }): Promise<void>;
  /** SIGTERM (or the image's StopSignal), then SIGKILL after `timeoutSeconds`. */
  stop(id: string, options?: RequestOptions & { timeoutSeconds?: number }): Promise<void>;
  /**
   * Removes with its anonymous volumes, by force unless `force: false`. With `ignoreMissing`,
   * a container already gone (or being removed) counts as removed.
   */
  remove(
    id: string,
    options?: RequestOptions & { force?: boolean; volumes?: boolean; ignoreMissing?: boolean },
  ): Promise<void>;
  inspect(id: string, options?: RequestOptions): Promise<ContainerInspect>;
  /** All containers (running or not) matching the labels and filters. */
  list(options?: ListOptions): Promise<ContainerSummary[]>;
  /** Output of a container created without a TTY, demultiplexed; `follow` streams until it exits. */
  logs(
    id: string,
    options?: RequestOptions & {
      follow?: boolean;
      stdout?: boolean;
      stderr?: boolean;
      since?: number;
      tail?: number | "all";
      timestamps?: boolean;
    },
  ): Promise<DemultiplexedOutput>;
}

export function containerOperations(transport: EngineTransport): ContainerOperations {
  const missingContainer =
    (id: string) =>
    ({ status }: { status: number }): string | undefined =>
      status === 404 ? `container ${shortId(id)} does not exist` : undefined;

  const beginWait: ContainerOperations["beginWait"] = async (id, options = {}) => {
    const response = await transport.send({
      method: "POST",
      path: `/containers/${encodeURIComponent(id)}/wait`,
      query: { condition: options.condition ?? "not-running" },
      signal: options.signal,
      describeError: missingContainer(id),
    });
    const exit = (async (): Promise<ContainerExit> => {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const result = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ContainerExit;
      if (result.Error?.Message) {
        throw new DockerApiError(`waiting for container ${shortId(id)}: ${result.Error.Message}`, {
          status: 200,
          method: "POST",
          endpoint: `/containers/${id}/wait`,
          engineMessage: result.Error.Message,
        });
      }
      return result;
    })();
    exit.catch(() => {});
    return { exit };
  };

  const attach: ContainerOperations["attach"] = async (id, options = {}) => {
    const socket = await transport.hijack({
      method: "POST",
      path: `/containers/${encodeURIComponent(id)}/attach`,
      query: { stream: 1, stdin: options.stdin === true ? 1 : 0, stdout: 1, stderr: 1 },
      signal: options.signal,
      describeError: missingContainer(id),
    });
    return wrapHijackedSocket(socket);
  };

  const start: ContainerOperations["start"] = async (id, options = {}) => {
    // 304 means "already started", which is what the caller wanted.
    await transport.call({
      method: "POST",
      path: `/containers/${encodeURIComponent(id)}/start`,
      signal: options.signal,
      describeError: missingContainer(id),
    });
  };

  return {
    async create(config, options = {}) {
      return transport.json<{ Id: string; Warnings: string[] }>({
        method: "POST",
        path: "/containers/create",
        query: { name: options.name },
        json: config,
        signal: options.signal,
        describeError: ({ status, engineMessage }) => {
          if (status === 404)
            return `image ${config.Image} is not on this engine: ${engineMessage}`;
          if (status === 409) return `a container named ${options.name ?? "?"} already exists`;
          return undefined;
        },
      });
    },

    start,

    attach,

    beginWait,

    async wait(id, options = {}) {
      const pending = await beginWait(id, options);
      return pending.exit;
    },

    async startAttached(id, options = {}) {
      // Our own abort too: if start fails, the registered wait must not hang on.
      const giveUp = new AbortController();
      const signal =
        options.signal === undefined
          ? giveUp.signal
          : AbortSignal.any([options.signal, giveUp.signal]);
      const streams = await attach(id, { ...options, signal });
      try {
        const pending = await beginWait(id, { condition: "next-exit", signal });
        await start(id, { signal });
        return { streams, exit: pending.exit };
      } catch (error) {
        giveUp.abort(error);
        streams.destroy();
        throw error;
      }
    },

    async kill(id, options = {}) {
      try {
        await transport.call({
          method: "POST",
          path: `/containers/${encodeURIComponent(id)}/kill`,
          query: { signal: options.killSignal ?? "SIGKILL" },
          signal: options.signal,
          describeError: missingContainer(id),
        });
      } catch (error) {
        if (error instanceof DockerApiError && error.status === 409) return;
        throw error;
      }
    },

    async stop(id, options = {}) {
      await transport.call({
        method: "POST",
        path: `/containers/${encodeURIComponent(id)}/stop`,
        query: { t: options.timeoutSeconds },
        signal: options.signal,
        describeError: missingContainer(id),
      });
    },

    async remove(id, options = {}) {
      try {
        await transport.call({
          method: "DELETE",
          path: `/containers/${encodeURIComponent(id)}`,
          query: { force: options.force ?? true, v: options.volumes ?? true },
          signal: options.signal,
          describeError: missingContainer(id),
        });
      } catch (error) {
        if (
          options.ignoreMissing === true &&
          error instanceof DockerApiError &&
          (error.status === 404 ||
            (error.status === 409 && /already in progress/i.test(error.engineMessage)))
        ) {
          return;
        }
        throw error;
      }
    },

    async inspect(id, options = {}) {
      return transport.json<ContainerInspect>({
        method: "GET",
        path: `/containers/${encodeURIComponent(id)}/json`,
        signal: options.signal,
        describeError: missingContainer(id),
      });
    },

    async list(options = {}) {
      return transport.json<ContainerSummary[]>({
        method: "GET",
        path: "/containers/json",
        query: { all: true, filters: encodeFilters(options.filters, options.labels) },
        signal: options.signal,
      });
    },

    async logs(id, options = {}) {
      const response: Readable = await transport.send({
        method: "GET",
        path: `/containers/${encodeURIComponent(id)}/logs`,
        query: {
          follow: options.follow ?? false,
          stdout: options.stdout ?? true,
          stderr: options.stderr ?? true,
          since: options.since,
          tail: options.tail,
          timestamps: options.timestamps ?? false,
        },
        signal: options.signal,
        describeError: missingContainer(id),
      });
      return demultiplex(response);
    },
  };
}

export function shortId(id: string): string {
  return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id;
}
