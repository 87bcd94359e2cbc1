import { PierError } from "../errors.ts";
import { readRunnerConfig, writeRunnerConfig, type RunnerEntry } from "./config-toml.ts";
import { jsonBody, type GitLabClient } from "./gitlab-client.ts";

/** gitlab-runner renews a token once 75 % of its lifetime has passed. */
const RENEW_AT_LIFETIME_FRACTION = 0.75;
/** Without `token_obtained_at` the lifetime is unknown: renew this long before expiry. */
const RENEW_BEFORE_EXPIRY_MS = 24 * 3_600_000;

/** gitlab-runner writes `0001-01-01T00:00:00Z` for "never" (Go's zero time). */
function isSet(date: Date | undefined): date is Date {
  return date !== undefined && !Number.isNaN(date.getTime()) && date.getUTCFullYear() > 1;
}

/** When the entry's token should be rotated; undefined when it never expires. */
export function tokenRotationDue(
  entry: Pick<RunnerEntry, "tokenObtainedAt" | "tokenExpiresAt">,
): Date | undefined {
  const expires = entry.tokenExpiresAt;
  if (!isSet(expires)) return undefined;
  const obtained = entry.tokenObtainedAt;
  if (isSet(obtained) && obtained.getTime() < expires.getTime()) {
    const lifetime = expires.getTime() - obtained.getTime();
    return new Date(obtained.getTime() + lifetime * RENEW_AT_LIFETIME_FRACTION);
  }
  return new Date(expires.getTime() - RENEW_BEFORE_EXPIRY_MS);
}

export interface RotatedToken {
  token: string;
  obtainedAt: Date;
  /** Undefined when the new token never expires. */
  expiresAt?: Date;
}

/** `POST /runners/reset_authentication_token`: GitLab invalidates `token` and returns its successor. */
export async function resetRunnerToken(
  client: GitLabClient,
  token: string,
  signal?: AbortSignal,
): Promise<RotatedToken> {
  const obtainedAt = new Date();
  const response = await client.request("POST", "runners/reset_authentication_token", {
    json: { token },
    headers: { "RUNNER-TOKEN": token },
    ...(signal !== undefined && { signal }),
  });
  const body = jsonBody<{ token?: unknown; token_expires_at?: unknown }>(response);
  if (response.status !== 201 && response.status !== 200) {
    throw new PierError(`resetting the runner token failed: HTTP ${String(response.status)}`);
  }
  if (typeof body?.token !== "string" || body.token === "") {
    throw new PierError("resetting the runner token failed: GitLab sent no token");
  }
  const expiresAt =
    typeof body.token_expires_at === "string" ? new Date(body.token_expires_at) : undefined;
  return {
    token: body.token,
    obtainedAt,
    ...(isSet(expiresAt) && { expiresAt }),
  };
}

/**
 * Puts the new token in config.toml in place of the old one (the file written whole, mode
 * 0600). Re-read first: the file may have changed since pier loaded it.
 */
export function saveRotatedToken(
  configFile: string,
  oldToken: string,
  rotated: RotatedToken,
): void {
  const { config } = readRunnerConfig(configFile);
  const entry = config.runners.find((candidate) => candidate.token === oldToken);
  if (entry === undefined) {
    throw new PierError(`${configFile}: the runner whose token was rotated is no longer there`);
  }
  entry.token = rotated.token;
  entry.tokenObtainedAt = rotated.obtainedAt;
  // gitlab-runner's zero time says "never expires".
  entry.tokenExpiresAt = rotated.expiresAt ?? new Date("0001-01-01T00:00:00Z");
  writeRunnerConfig(configFile, config);
}
