import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { PierError } from "../errors.ts";
import type { JobDependency } from "../job/spec.ts";
import { drain, sendStreamed, statusLine, tlsFor } from "./artifacts-http.ts";
import type { GitLabTlsMaterial } from "./gitlab-tls.ts";
import type { ArtifactLog, ArtifactRetry } from "./artifacts-upload.ts";
import { backoffDelayMs } from "./gitlab-client.ts";
import { shortToken } from "./short-token.ts";

/** GitLab refused a dependency's artifacts for good (401, 403, 404): retrying cannot help. */
export class DependencyRefusedError extends PierError {}

const MAX_REDIRECTS = 10;

const REFUSALS: Record<number, { word: string; fatal: string }> = {
  401: { word: "unauthorized", fatal: "unauthorized" },
  403: { word: "forbidden", fatal: "permission denied" },
  404: { word: "not found", fatal: "file does not exist" },
};

/**
 * `GET /jobs/:id/artifacts?direct_download=true` with the dependency's own token, as
 * gitlab-runner's artifacts-downloader does, streamed into `destination`. Redirects (to
 * object storage) are followed, without the job token once they leave GitLab's origin.
 * 401/403/404 throw DependencyRefusedError; 5xx, timeouts and broken transfers are retried.
 */
export async function downloadArtifactsFile(o: {
  apiBase: string;
  tls?: GitLabTlsMaterial;
  dependency: JobDependency;
  destination: string;
  retry: ArtifactRetry;
  log: ArtifactLog;
  signal?: AbortSignal;
}): Promise<void> {
  const { dependency } = o;
  const start = new URL(`jobs/${dependency.id}/artifacts?direct_download=true`, o.apiBase);
  const what = "Downloading artifacts from coordinator...";
  const fields = `id=${dependency.id}`;
  const token = `token=${shortToken(dependency.token)}`;

  for (let attempt = 1; ; attempt += 1) {
    let problem: string;
    try {
      let url = start;
      for (let redirects = 0; ; redirects += 1) {
        const sameOrigin = url.origin === start.origin;
        const response = await sendStreamed({
          method: "GET",
          url,
          headers: sameOrigin ? { "JOB-TOKEN": dependency.token } : {},
          idleTimeoutMs: o.retry.idleTimeoutMs,
          ...tlsFor(url, o.apiBase, o.tls),
          ...(o.signal !== undefined && { signal: o.signal }),
        });
        const status = response.statusCode ?? 0;
        const line = statusLine(response);
        const location = response.headers.location;
        if (status >= 300 && status < 400 && location !== undefined) {
          await drain(response);
          if (redirects >= MAX_REDIRECTS) throw new PierError(`${what} too many redirects`);
          url = new URL(location, url);
          continue;
        }
        if (status === 200) {
          await pipeline(
            response,
            createWriteStream(o.destination),
            ...(o.signal === undefined ? [] : [{ signal: o.signal }]),
          );
          o.log.println(`${what} ok  host=${url.host} ${fields} responseStatus=${line} ${token}`);
          return;
        }
        await drain(response);
        const failure = `${fields} responseStatus=${line} status=${line} ${token}`;
        const refusal = REFUSALS[status];
        if (refusal !== undefined) {
          o.log.error(`${what} ${refusal.word}  ${failure}`);
          throw new DependencyRefusedError(
            `${what} ${refusal.word}: artifacts of ${dependency.name} (${dependency.id}): ${refusal.fatal}`,
          );
        }
        if (status < 500 && status !== 408 && status !== 429) {
          o.log.error(`${what} failed  ${failure}`);
          throw new PierError(`${what} failed: ${line}`);
        }
        o.log.warning(`${what} failed  ${failure}`);
        problem = line;
        break;
      }
    } catch (error) {
      if (error instanceof PierError || o.signal?.aborted === true) throw error;
      problem = error instanceof Error ? error.message : String(error);
      o.log.warning(`${what} error  ${fields} error=${problem} ${token}`);
    }
    await rm(o.destination, { force: true });
    if (attempt >= o.retry.attempts) {
      throw new PierError(
        `${what} failed after ${attempt} attempts: artifacts of ${dependency.name} (${dependency.id}): ${problem}`,
      );
    }
    o.log.warning(`Retrying...  context=artifacts-downloader error=${problem}`);
    await sleep(
      backoffDelayMs(attempt - 1, o.retry.baseDelayMs, o.retry.maxDelayMs),
      undefined,
      o.signal === undefined ? {} : { signal: o.signal },
    );
  }
}
