import { randomBytes } from "node:crypto";
import { request as httpRequest, STATUS_CODES, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Readable } from "node:stream";
import type { SecureContext } from "node:tls";
import { pierVersion } from "../cli/version.ts";
import { deferredTrustContext } from "../extra-ca-certificates.ts";
import type { GitLabTlsMaterial } from "./gitlab-tls.ts";

export interface StreamedRequest {
  method: "GET" | "POST";
  url: URL;
  headers?: Record<string, string>;
  /** A fresh body for each attempt (retries and redirects send it again from the start). */
  body?: () => Readable;
  contentLength?: number;
  signal?: AbortSignal;
  /** Gives up when the connection stays silent this long (no bytes either way). */
  idleTimeoutMs: number;
  /** GitLab's private CA and client certificate: only for GitLab's own origin, not object storage. */
  tls?: GitLabTlsMaterial;
}

/** The TLS material to use for `url`: GitLab's for GitLab's origin, the system's elsewhere. */
export function tlsFor(
  url: URL,
  apiBase: string,
  tls: GitLabTlsMaterial | undefined,
): { tls?: GitLabTlsMaterial } {
  if (tls !== undefined && url.origin === new URL(apiBase).origin) return { tls };
  const secureContext = deferredTrustContext();
  return secureContext === undefined ? {} : { tls: { secureContext } };
}

const agents = new WeakMap<SecureContext, HttpsAgent>();

/**
 * A context's own agent: Node's agents pool sockets and TLS sessions by host and port, not by
 * context, so a shared one could hand a request a connection made with another runner's
 * client certificate.
 */
function tlsOptions(secureContext: SecureContext): {
  secureContext: SecureContext;
  agent: HttpsAgent;
} {
  let agent = agents.get(secureContext);
  if (agent === undefined) {
    agent = new HttpsAgent({ keepAlive: true, secureContext });
    agents.set(secureContext, agent);
  }
  return { secureContext, agent };
}

/** The socket went silent for longer than the idle timeout: retried like a 5xx. */
export class IdleTimeoutError extends Error {}

/** `201 Created`, `413 Request Entity Too Large`: how gitlab-runner shows a status in its lines. */
export function statusLine(response: IncomingMessage): string {
  const code = response.statusCode ?? 0;
  return `${code} ${response.statusMessage ?? STATUS_CODES[code] ?? ""}`.trim();
}

/**
 * One HTTP exchange over node:http(s) with the body streamed from its source, never
 * buffered: artifacts may be hundreds of megabytes. Resolves once the response headers
 * arrive, even if GitLab answers (413) before reading the whole body; the caller reads or
 * drains the response.
 */
export function sendStreamed(o: StreamedRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    o.signal?.throwIfAborted();
    const send = o.url.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string> = {
      "User-Agent": `pier ${pierVersion()} (${process.platform}; ${process.arch})`,
      "X-Request-Id": randomBytes(16).toString("hex"),
      ...o.headers,
      ...(o.contentLength !== undefined && { "Content-Length": String(o.contentLength) }),
    };
    let answered = false;
    const request = send(o.url, {
      method: o.method,
      headers,
      ...(o.url.protocol === "https:" && o.tls?.secureContext && tlsOptions(o.tls.secureContext)),
      ...(o.signal !== undefined && { signal: o.signal }),
    });
    request.setTimeout(o.idleTimeoutMs, () => {
      request.destroy(
        new IdleTimeoutError(`no answer from ${o.url.host} for ${o.idleTimeoutMs} ms`),
      );
    });
    request.on("response", (response) => {
      answered = true;
      response.setTimeout(o.idleTimeoutMs, () => {
        response.destroy(
          new IdleTimeoutError(`${o.url.host} stopped sending for ${o.idleTimeoutMs} ms`),
        );
      });
      resolve(response);
    });
    request.on("error", (error) => {
      // An early answer (413 before the body was read) resets the upload: not a failure.
      if (!answered) reject(error);
    });
    const body = o.body?.();
    if (body === undefined) {
      request.end();
      return;
    }
    body.on("error", (error) => request.destroy(error));
    request.on("close", () => body.destroy());
    body.pipe(request);
  });
}

/** Reads a (small) error body for the log, at most 1 KiB. */
export async function drain(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response) {
      if (size < 1024) chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch {
    // A reset after the status line leaves nothing useful to read.
  }
  return Buffer.concat(chunks).toString("utf8").slice(0, 1024);
}
