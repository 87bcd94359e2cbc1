import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { PierError } from "../errors.ts";
import { backoffDelayMs } from "./gitlab-client.ts";
import { drain, sendStreamed, statusLine, tlsFor } from "./artifacts-http.ts";
import type { GitLabTlsMaterial } from "./gitlab-tls.ts";
import { shortToken } from "./short-token.ts";

/** Where the job's lines go: gitlab-runner's wording, the trace adds the colours. */
export interface ArtifactLog {
  println(text: string): void;
  warning(text: string): void;
  error(text: string): void;
}

export interface ArtifactRetry {
  /** Attempts for 5xx, 408, 429, timeouts and network errors; 403/413 are never retried. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  idleTimeoutMs: number;
}

export const defaultArtifactRetry: ArtifactRetry = {
  attempts: 4,
  baseDelayMs: 1000,
  maxDelayMs: 10_000,
  idleTimeoutMs: 120_000,
};

export interface ArtifactUpload {
  /** `https://gitlab.example.com/api/v4/` */
  apiBase: string;
  tls?: GitLabTlsMaterial;
  jobId: number;
  jobToken: string;
  /** The archive on disk, streamed from there on every attempt. */
  file: string;
  size: number;
  /** The multipart file name: `artifacts.zip`, `junit.xml.gz`. */
  filename: string;
  type: string;
  format: string;
  expireIn?: string;
  retry: ArtifactRetry;
  log: ArtifactLog;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;

function isRetried(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/**
 * `POST /jobs/:id/artifacts` as gitlab-runner's artifacts-uploader sends it: the type,
 * format and expiry in the query, the archive as the `file` part of a multipart body with
 * its length known up front, streamed from disk. 201 is success; 413 (too large) and 403
 * fail at once; 5xx, 408, 429, timeouts and dropped connections are retried with backoff;
 * 307/308 send the same body to the new location.
 */
export async function uploadArtifactFile(o: ArtifactUpload): Promise<void> {
  const query = new URLSearchParams();
  if (o.expireIn !== undefined && o.expireIn !== "") query.set("expire_in", o.expireIn);
  query.set("artifact_format", o.format);
  query.set("artifact_type", o.type);
  let url = new URL(`jobs/${o.jobId}/artifacts?${query.toString()}`, o.apiBase);
  const boundary = `pier-${randomBytes(12).toString("hex")}`;
  const head = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="file"; filename="${quoted(o.filename)}"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = (): Readable =>
    Readable.from(
      (async function* () {
        yield head;
        yield* createReadStream(o.file);
        yield tail;
      })(),
    );
  const what = `Uploading artifacts as "${o.type}" to coordinator...`;
  const fields = `id=${o.jobId}`;
  const token = `token=${shortToken(o.jobToken)}`;
  let redirects = 0;

  for (let attempt = 1; ; attempt += 1) {
    let problem: string;
    try {
      const response = await sendStreamed({
        method: "POST",
        url,
        headers: {
          "JOB-TOKEN": o.jobToken,
          "Content-Type": `multipart/form-data; boundary=${boundary}`,
          Accept: "application/json",
        },
        body,
        contentLength: head.length + o.size + tail.length,
        idleTimeoutMs: o.retry.idleTimeoutMs,
        ...tlsFor(url, o.apiBase, o.tls),
        ...(o.signal !== undefined && { signal: o.signal }),
      });
      const status = response.statusCode ?? 0;
      const line = statusLine(response);
      const detail = await drain(response);
      if (status === 201 || status === 200) {
        o.log.println(`${what} ${line}  ${fields} responseStatus=${line} ${token}`);
        return;
      }
      const location = response.headers.location;
      if ((status === 307 || status === 308) && location !== undefined) {
        if (++redirects > MAX_REDIRECTS) throw new PierError(`${what} too many redirects`);
        url = new URL(location, url);
        attempt -= 1;
        continue;
      }
      const failure = `${fields} responseStatus=${line} status=${line} ${token}`;
      if (status === 413) {
        o.log.error(`${what} too large archive  ${failure}`);
        throw new PierError(
          `too large archive: GitLab refused the ${o.type} artifacts (${line}, ${o.size} bytes); ` +
            "raise the maximum artifacts size in GitLab or upload less",
        );
      }
      if (status === 403) {
        o.log.error(`${what} forbidden  ${failure}`);
        throw new PierError(`forbidden: GitLab refused the job's token (${line})`);
      }
      if (!isRetried(status)) {
        o.log.error(`${what} failed  ${failure}`);
        throw new PierError(`GitLab answered ${line}${detail === "" ? "" : `: ${detail.trim()}`}`);
      }
      o.log.warning(`${what} failed  ${failure}`);
      problem = line;
    } catch (error) {
      if (error instanceof PierError || o.signal?.aborted === true) throw error;
      problem = error instanceof Error ? error.message : String(error);
      o.log.warning(`${what} error  ${fields} error=${problem} ${token}`);
    }
    if (attempt >= o.retry.attempts) {
      throw new PierError(
        `GitLab did not take the artifacts after ${attempt} attempts: ${problem}`,
      );
    }
    o.log.warning(`Retrying...  context=artifacts-uploader error=${problem}`);
    await sleep(
      backoffDelayMs(attempt - 1, o.retry.baseDelayMs, o.retry.maxDelayMs),
      undefined,
      o.signal === undefined ? {} : { signal: o.signal },
    );
  }
}

function quoted(name: string): string {
  return name.replace(/["\\\r\n]/g, "_");
}
