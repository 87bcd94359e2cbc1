/** GitLab's automatic retry: within `max`, for a failure whose reason and exit code both match. */

export interface RetryPolicy {
  max: number;
  /** Failure reasons to retry on; "always" matches any. Empty means "always". */
  when: string[];
  /** Exit codes to retry on; empty means any. */
  exitCodes: number[];
}

/** GitLab's `retry:when` words for the failure reasons pier reports. */
const reasonWords: Record<string, string[]> = {
  script_failure: ["script_failure"],
  job_execution_timeout: ["job_execution_timeout"],
  runner_system_failure: ["runner_system_failure"],
  image_pull_failure: ["runner_system_failure", "image_pull_failure"],
  unknown_failure: ["unknown_failure"],
};

export function shouldRetry(
  policy: RetryPolicy,
  failedAttempts: number,
  failure: { failureReason?: string | undefined; exitCode?: number | undefined },
): boolean {
  if (failedAttempts > policy.max) return false;
  const when = policy.when.length === 0 ? ["always"] : policy.when;
  const words = reasonWords[failure.failureReason ?? "unknown_failure"] ?? [
    failure.failureReason ?? "",
  ];
  const reasonMatches = when.includes("always") || words.some((word) => when.includes(word));
  const exitMatches =
    policy.exitCodes.length === 0 ||
    (failure.exitCode !== undefined && policy.exitCodes.includes(failure.exitCode));
  return reasonMatches && exitMatches;
}
