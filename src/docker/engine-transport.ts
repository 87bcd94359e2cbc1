// Named imports: the start-up loader defers these modules until first use (see compile-cache.ts),
// and https (with tls) loads only for an engine reached over TLS.
import {
  Agent,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type RequestOptions,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";

import type { DockerEndpoint } from "./docker-endpoint.ts";
import { DockerApiError, DockerConnectionError, DockerUnavailableError } from "./docker-errors.ts";
import type { DockerTlsMaterial } from "./docker-tls.ts";

export type HttpMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE";
export type QueryValue = string | number | boolean | undefined;

/** What the engine said when a call failed, for an operation to turn into its own words. */
export interface EngineFailure {
  status: number;
  engineMessage: string;
}

export interface EngineRequest {
  method: HttpMethod;
  /** Without the version prefix: `/containers/create`. */
  path: string;
  query?: Record<string, QueryValue>;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is, with `contentType`. */
  body?: Buffer | Readable;
  contentType?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** `/_ping` and friends are not versioned. */
  unversioned?: boolean;
  /** Our own sentence for a failure; undefined keeps the generic one. */
  describeError?: (failure: EngineFailure) => string | undefined;
}

/** Connection errors that mean "nobody answered", as opposed to "the answer broke off". */
const UNREACHABLE_CODES = new Set([
  "ENOENT",
  "ECONNREFUSED",
  "EACCES",
  "EPERM",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "ENOTSOCK",
  "EPROTO",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/**
 * HTTP to the engine: a keep-alive agent for ordinary calls, a fresh connection for each
 * hijacked stream (attach, exec), since the engine takes that socket over for good.
 */
export class EngineTransport {
  readonly endpoint: DockerEndpoint;
  /** Set once negotiated; until then versioned calls go unversioned (the engine's newest). */
  apiVersion: string | undefined;
  readonly #tls: DockerTlsMaterial | undefined;
  readonly #agent: Agent;

  constructor(endpoint: DockerEndpoint, tls?: DockerTlsMaterial) {
    this.endpoint = endpoint;
    this.#tls = tls;
    this.#agent =
      endpoint.kind === "tcp" && tls !== undefined
        ? new HttpsAgent({ keepAlive: true, ...tls })
        : new Agent({ keepAlive: true });
  }

  close(): void {
    this.#agent.destroy();
  }

  /** Sends the request and returns the response once its status is known to be a success. */
  async send(request: EngineRequest): Promise<IncomingMessage> {
    const outcome = await this.#exchange(request, false);
    if (outcome.kind !== "response") throw new Error("unexpected upgrade");
    return outcome.response;
  }

  async json<T>(request: EngineRequest): Promise<T> {
    const response = await this.send(request);
    const body = await readBody(response, request.signal);
    if (body.length === 0) return undefined as T;
    return JSON.parse(body.toString("utf8")) as T;
  }

  /** For calls whose answer is only a status: 204, or 304 "already started/stopped". */
  async call(request: EngineRequest): Promise<number> {
    const response = await this.send(request);
    await readBody(response, request.signal);
    return response.statusCode ?? 0;
  }

  /**
   * Asks the engine to take the connection over (attach, exec start) and returns the raw
   * socket: written bytes go to the process's stdin, read bytes are the multiplexed output.
   */
  async hijack(request: EngineRequest): Promise<Socket> {
    const outcome = await this.#exchange(request, true);
    if (outcome.kind === "upgrade") return outcome.socket;
    outcome.response.destroy();
    throw new DockerConnectionError(
      `the Docker engine at ${this.endpoint.display} did not hand over the connection for ${request.method} ${request.path}`,
    );
  }

  #exchange(
    request: EngineRequest,
    hijack: boolean,
  ): Promise<
    { kind: "response"; response: IncomingMessage } | { kind: "upgrade"; socket: Socket }
  > {
    const { signal } = request;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const path = this.#pathFor(request);
    const headers: Record<string, string> = { ...request.headers };
    let payload: Buffer | Readable | undefined = request.body;
    if (request.json !== undefined) {
      payload = Buffer.from(JSON.stringify(request.json), "utf8");
      headers["Content-Type"] = "application/json";
    } else if (request.contentType !== undefined) {
      headers["Content-Type"] = request.contentType;
    }
    if (Buffer.isBuffer(payload)) headers["Content-Length"] = String(payload.length);
    if (hijack) {
      headers.Connection = "Upgrade";
      headers.Upgrade = "tcp";
      if (payload === undefined) headers["Content-Length"] = "0";
    }

    const timing = engineTiming(request.method, request.path);
    return new Promise((resolve, reject) => {
      let settled = false;
      let response: IncomingMessage | undefined;
      const onAbort = (): void => {
        const reason = abortReason(signal as AbortSignal);
        req.destroy(reason);
        response?.destroy(reason);
        fail(reason);
      };
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      const succeed = (
        value:
          { kind: "response"; response: IncomingMessage } | { kind: "upgrade"; socket: Socket },
      ): void => {
        settled = true;
        if (timing !== undefined) {
          const stream = value.kind === "upgrade" ? value.socket : value.response;
          timing(value.kind === "upgrade" ? "101" : String(value.response.statusCode), stream);
        }
        resolve(value);
      };

      const req = this.#request(request.method, path, headers, hijack);
      signal?.addEventListener("abort", onAbort, { once: true });

      req.on("error", (error) => {
        if (signal?.aborted) return fail(abortReason(signal));
        fail(this.#connectionError(error, request.method, request.path));
      });
      req.on("upgrade", (res, socket, head) => {
        res.resume();
        if (head.length > 0) socket.unshift(head);
        if (signal !== undefined) {
          // From here on an abort tears the stream down instead of failing the call.
          signal.removeEventListener("abort", onAbort);
          const destroy = (): void => {
            socket.destroy(abortReason(signal));
          };
          signal.addEventListener("abort", destroy, { once: true });
          socket.once("close", () => signal.removeEventListener("abort", destroy));
        }
        succeed({ kind: "upgrade", socket });
      });
      req.on("response", (res) => {
        response = res;
        const status = res.statusCode ?? 0;
        if (status < 400) {
          if (signal !== undefined) {
            signal.removeEventListener("abort", onAbort);
            const destroy = (): void => {
              res.destroy(abortReason(signal));
            };
            signal.addEventListener("abort", destroy, { once: true });
            res.once("close", () => signal.removeEventListener("abort", destroy));
          }
          succeed({ kind: "response", response: res });
          return;
        }
        readBody(res, signal).then(
          (body) => fail(this.#apiError(request, status, engineMessageOf(body))),
          fail,
        );
      });

      if (payload === undefined) req.end();
      else if (Buffer.isBuffer(payload)) req.end(payload);
      else {
        payload.on("error", (error) => {
          req.destroy(error);
          fail(error);
        });
        payload.pipe(req);
      }
    });
  }

  #request(
    method: HttpMethod,
    path: string,
    headers: Record<string, string>,
    hijack: boolean,
  ): ClientRequest {
    // A hijacked connection is never given back, so it must not come from the shared pool.
    const agent = hijack ? false : this.#agent;
    const endpoint = this.endpoint;
    if (endpoint.kind === "unix") {
      // An empty servername spares Node's agent its IP check of the (absent) host name, whose
      // first use compiles the large IPv6 pattern: ~7 ms of every pier start.
      const options = { socketPath: endpoint.socketPath, method, path, headers, agent };
      return httpRequest({ ...options, servername: "" } as RequestOptions);
    }
    const common = { host: endpoint.host, port: endpoint.port, method, path, headers, agent };
    return this.#tls === undefined
      ? httpRequest(common)
      : httpsRequest({ ...common, ...this.#tls });
  }

  #pathFor(request: EngineRequest): string {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) query.set(key, String(value));
    }
    const search = query.size > 0 ? `?${query.toString()}` : "";
    const prefix =
      request.unversioned === true || this.apiVersion === undefined ? "" : `/v${this.apiVersion}`;
    return `${prefix}${request.path}${search}`;
  }

  #connectionError(error: Error, method: string, path: string): Error {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (UNREACHABLE_CODES.has(code) || code.startsWith("ERR_SSL") || code.startsWith("ERR_TLS")) {
      const reason =
        code === "ENOENT"
          ? `no socket at ${this.endpoint.kind === "unix" ? this.endpoint.socketPath : "that address"} (is the engine running?)`
          : code === "EACCES"
            ? `permission denied (${error.message}); is this user in the docker group?`
            : error.message;
      return new DockerUnavailableError(this.endpoint.display, reason, { cause: error });
    }
    return new DockerConnectionError(
      `lost the connection to the Docker engine at ${this.endpoint.display} during ${method} ${path}: ${error.message}`,
      { cause: error },
    );
  }

  #apiError(request: EngineRequest, status: number, engineMessage: string): DockerApiError {
    const ours = request.describeError?.({ status, engineMessage });
    const text = ours ?? (engineMessage || `HTTP ${status}`);
    return new DockerApiError(
      `${text} (Docker engine: ${request.method} ${request.path} answered ${status})`,
      { status, method: request.method, endpoint: request.path, engineMessage },
    );
  }
}

/**
 * With PIER_DOCKER_TIMING=1, each engine call is logged on stderr as it gets its answer (ms
 * since the call began) and when its stream ends: where a job's time goes, call by call.
 */
function engineTiming(
  method: string,
  path: string,
): ((status: string, stream: Readable | Socket) => void) | undefined {
  if (process.env["PIER_DOCKER_TIMING"] !== "1") return undefined;
  const began = performance.now();
  const at = (): string => (performance.now() - began).toFixed(1);
  return (status, stream) => {
    const headers = at();
    stream.once("close", () => {
      process.stderr.write(
        `[docker] @${began.toFixed(0)} ${method} ${path} ${status} ${headers} ms, closed ${at()} ms\n`,
      );
    });
  };
}

export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error("the operation was aborted");
  error.name = "AbortError";
  return error;
}

export async function readBody(stream: Readable, signal?: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  }
  return Buffer.concat(chunks);
}

function engineMessageOf(body: Buffer): string {
  const text = body.toString("utf8").trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // Not JSON: old engines and proxies answer in plain text.
  }
  return text;
}
