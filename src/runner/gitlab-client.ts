import { randomBytes } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { pierVersion } from "../cli/version.ts";
import { PierError } from "../errors.ts";
import { loadGitLabTls, type GitLabTlsFiles, type GitLabTlsMaterial } from "./gitlab-tls.ts";

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

export interface ApiRequest {
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Raw bytes (trace PATCH). */
  body?: Buffer;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Attempts before the last answer is returned as it is (default: the client's). */
  attempts?: number;
}

export interface GitLabClientOptions {
  /** GitLab's base URL as in config.toml (`https://gitlab.example.com/`). */
  url: string;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Every answer (status 0: no answer), for the runner's request metrics. */
  onResponse?: (method: string, path: string, status: number) => void;
  /** `tls-ca-file`, `tls-cert-file`, `tls-key-file` of the runner entry. */
  tls?: GitLabTlsFiles;
}

/** GitLab could not be reached at all (network error on every attempt). */
export class GitLabUnreachableError extends PierError {}

const RETRIED_STATUSES = new Set([408, 429, 500, 502, 503, 504]);

/** `https://host/` or `https://host/ci` → `https://host/api/v4/`. */
export function apiBase(url: string): string {
  const trimmed = url.trim().replace(/\/+$/, "").replace(/\/ci$/, "");
  return `${trimmed}/api/v4/`;
}

/** Delay asked by `Retry-After` (seconds or HTTP date) or `RateLimit-ResetTime`, in ms. */
export function serverDelayMs(headers: Headers, now = Date.now()): number | undefined {
  const retryAfter = headers.get("retry-after");
  if (retryAfter !== null) {
    if (/^\d+$/.test(retryAfter.trim())) return Number(retryAfter.trim()) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get("ratelimit-resettime");
  if (reset !== null) {
    const at = Date.parse(reset);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  return undefined;
}

/** Exponential backoff with full jitter: spreads many runners' retries after an outage. */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * GitLab's API over node:http(s) with one keep-alive agent per client (a chatty job's trace
 * PATCHes reuse their connection; the runner's CA and client certificate apply to every
 * request): correlation id and user agent on every request, retries with jittered backoff on
 * 408/429/5xx and network errors, honouring the server's Retry-After. Statuses are returned,
 * not thrown: each endpoint gives them its own meaning.
 */
export class GitLabClient {
  readonly base: string;
  /** The TLS material of `tls-*-file`, for other HTTPS calls to the same GitLab (artifacts). */
  readonly tls: GitLabTlsMaterial;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onResponse: GitLabClientOptions["onResponse"];
  readonly #userAgent = `pier ${pierVersion()} (${process.platform}; ${process.arch})`;

  constructor(options: GitLabClientOptions) {
    this.base = apiBase(options.url);
    this.tls = loadGitLabTls(options.tls ?? {});
    this.#agent = this.base.startsWith("https:")
      ? new HttpsAgent({ keepAlive: true, ...this.tls })
      : new HttpAgent({ keepAlive: true });
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#baseDelayMs = options.baseDelayMs ?? 500;
    this.#maxDelayMs = options.maxDelayMs ?? 30_000;
    this.#onResponse = options.onResponse;
  }

  async request(method: string, path: string, o: ApiRequest = {}): Promise<ApiResponse> {
    const url = new URL(path, this.base);
    const attempts = Math.max(1, o.attempts ?? this.#maxAttempts);
    const headers: Record<string, string> = {
      "User-Agent": this.#userAgent,
      Accept: "application/json",
      ...o.headers,
    };
    let body: Buffer | string | undefined = o.body;
    if (o.json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(o.json);
    }
    for (let attempt = 0; ; attempt += 1) {
      o.signal?.throwIfAborted();
      let result: ApiResponse;
      try {
        result = await this.#send(url, method, {
          headers: { ...headers, "X-Request-Id": randomBytes(16).toString("hex") },
          body,
          signal: o.signal,
        });
      } catch (error) {
        if (o.signal?.aborted === true) throw error;
        this.#onResponse?.(method, url.pathname, 0);
        if (attempt + 1 >= attempts) {
          throw new GitLabUnreachableError(`${method} ${url.href}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        await sleep(this.#delay(attempt), undefined, optionalSignal(o.signal));
        continue;
      }
      this.#onResponse?.(method, url.pathname, result.status);
      if (!RETRIED_STATUSES.has(result.status) || attempt + 1 >= attempts) return result;
      const delay = serverDelayMs(result.headers) ?? this.#delay(attempt);
      await sleep(Math.min(delay, this.#maxDelayMs * 4), undefined, optionalSignal(o.signal));
    }
  }

  /** Closes idle keep-alive connections (the client stays usable). */
  close(): void {
    this.#agent.destroy();
  }

  #send(
    url: URL,
    method: string,
    o: {
      headers: Record<string, string>;
      body: Buffer | string | undefined;
      signal: AbortSignal | undefined;
    },
  ): Promise<ApiResponse> {
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const headers = { ...o.headers };
    if (o.body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(o.body));
    return new Promise<ApiResponse>((resolve, reject) => {
      const request = send(
        url,
        { method, headers, agent: this.#agent, ...optionalSignal(o.signal) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.once("error", reject);
          response.once("close", () => {
            if (!response.complete) reject(new Error("the connection closed mid-answer"));
          });
          response.once("end", () => {
            resolve({
              status: response.statusCode ?? 0,
              headers: headersOf(response),
              body: Buffer.concat(chunks),
            });
          });
        },
      );
      request.once("error", reject);
      request.end(o.body);
    });
  }

  #delay(attempt: number): number {
    return backoffDelayMs(attempt, this.#baseDelayMs, this.#maxDelayMs);
  }
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  return headers;
}

function optionalSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/** Parses a JSON answer; undefined when the body is not JSON (old GitLab answers plain text). */
export function jsonBody<T>(response: ApiResponse): T | undefined {
  try {
    return JSON.parse(response.body.toString("utf8")) as T;
  } catch {
    return undefined;
  }
}
