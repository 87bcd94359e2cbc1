/**
 * Why a pull failed, in the three buckets gitlab-runner uses to pick a job's failure_reason:
 * the registry could not be reached (runner_external_dependency_failure), the image does not
 * exist or we may not have it (runner_configuration_error), or anything else (image_pull_failure).
 */
export type PullFailureKind = "unreachable" | "missing-or-denied" | "other";

const MISSING_OR_DENIED = [
  /manifest unknown/i,
  /manifest for .* not found/i,
  /not found/i,
  /repository does not exist/i,
  /pull access denied/i,
  /access (?:to the resource )?(?:is )?denied/i,
  /unauthorized/i,
  /authentication required/i,
  /denied:/i,
];

const UNREACHABLE = [
  /dial tcp/i,
  /no such host/i,
  /lookup .* on .*:53/i,
  /i\/o timeout/i,
  /timeout exceeded/i,
  /context deadline exceeded/i,
  /connection refused/i,
  /connection reset/i,
  /network is unreachable/i,
  /no route to host/i,
  /tls: /i,
  /x509: /i,
  /server gave HTTP response to HTTPS client/i,
  /\bEOF\b/,
];

export function classifyPullFailure(engineMessage: string): PullFailureKind {
  // Network problems first: "lookup …: no such host" also contains "not found"-like words.
  if (UNREACHABLE.some((pattern) => pattern.test(engineMessage))) return "unreachable";
  if (MISSING_OR_DENIED.some((pattern) => pattern.test(engineMessage))) return "missing-or-denied";
  return "other";
}
