import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { httpGetText } from "./http-get-text.ts";

const fetchTimeoutMs = 10_000;
const memory = new Map<string, string>();

function cacheDir(): string {
  const base = process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache");
  return join(base, "pier", "remote-includes");
}

function cachePath(url: string): string {
  return join(cacheDir(), `${createHash("sha256").update(url).digest("hex")}.yml`);
}

/**
 * Text of a remote include. Fetched once per process; the last good copy is kept on disk so an
 * offline run still works with what was seen before. Throws a message GitLab would show.
 */
export async function fetchRemoteInclude(url: string): Promise<string> {
  const known = memory.get(url);
  if (known !== undefined) return known;
  if (!/^https?:\/\/[^/\s]+/.test(url))
    throw new Error(`Remote file \`${url}\` does not have a valid address!`);
  let failure: string;
  const deadline = AbortSignal.timeout(fetchTimeoutMs);
  try {
    const response = await httpGetText(new URL(url), deadline);
    if (response.status >= 200 && response.status < 300) {
      const text = response.text;
      memory.set(url, text);
      try {
        mkdirSync(cacheDir(), { recursive: true });
        writeFileSync(cachePath(url), text);
      } catch {
        // A read-only cache directory only costs a refetch next time.
      }
      return text;
    }
    failure = `HTTP code \`${response.status}\` error`;
  } catch {
    failure = deadline.aborted ? "a timeout error" : "a socket error";
  }
  try {
    const cached = readFileSync(cachePath(url), "utf8");
    memory.set(url, cached);
    return cached;
  } catch {
    throw new Error(`Remote file \`${url}\` could not be fetched because of ${failure}!`);
  }
}
