/** Reasons every GitLab that talks to runners accepts. */
const ALWAYS_ACCEPTED = new Set([
  "script_failure",
  "runner_system_failure",
  "job_execution_timeout",
]);

/** gitlab-runner's fallbacks for reasons an older GitLab does not list. */
const COMPATIBLE: Record<string, string> = {
  runner_configuration_error: "script_failure",
  runner_external_dependency_failure: "runner_system_failure",
  image_pull_failure: "runner_system_failure",
  runner_interrupted: "unknown_failure",
};

/**
 * The `failure_reason` to send: as is when GitLab listed it in `features.failure_reasons`,
 * else its compatible older reason, else `unknown_failure`; no reason means script_failure.
 */
export function failureReasonFor(
  reason: string | undefined,
  accepted: readonly string[] | undefined,
): string {
  if (reason === undefined || reason === "") return "script_failure";
  const listed = new Set(accepted ?? []);
  if (ALWAYS_ACCEPTED.has(reason) || listed.has(reason)) return reason;
  const fallback = COMPATIBLE[reason];
  if (fallback !== undefined && (ALWAYS_ACCEPTED.has(fallback) || listed.has(fallback)))
    return fallback;
  return "unknown_failure";
}
