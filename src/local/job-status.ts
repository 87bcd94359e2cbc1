/**
 * Job statuses and GitLab's composite status, as in Gitlab::Ci::Status::Composite: the rule that
 * decides, from the jobs a job waits for, whether it runs, is skipped or keeps waiting.
 */

export type JobStatus =
  | "created" // waiting for what it depends on
  | "scheduled" // when: delayed, counting down start_in
  | "pending" // ready, waiting for a free slot or its resource group
  | "running"
  | "success"
  | "failed"
  | "canceled"
  | "skipped"
  | "manual"; // waiting for someone to play it

export const finishedStatuses: ReadonlySet<JobStatus> = new Set([
  "success",
  "failed",
  "canceled",
  "skipped",
]);

/** What a finished or waiting job contributes to the status of the jobs that depend on it. */
export type ContributedStatus =
  | JobStatus
  | "success_with_warnings" // failed, but allowed to fail
  | "ignored"; // a manual job that is allowed to fail and was not played

export type CompositeStatus =
  "success" | "failed" | "canceled" | "skipped" | "running" | "manual" | "scheduled";

/**
 * The composite status of `statuses`. In DAG mode (the job has `needs`) a skipped or ignored
 * need makes the whole thing skipped; in stage mode they count as success.
 */
export function compositeStatus(
  statuses: Iterable<ContributedStatus>,
  dag: boolean,
): CompositeStatus {
  const seen = new Set<ContributedStatus>(statuses);
  if (seen.size === 0) return "success";
  const onlyOf = (...allowed: ContributedStatus[]): boolean =>
    [...seen].every((status) => allowed.includes(status));
  if (dag && (seen.has("skipped") || seen.has("ignored"))) return "skipped";
  if (onlyOf("skipped", "ignored")) return "skipped";
  if (onlyOf("success", "skipped", "success_with_warnings", "ignored")) return "success";
  if (seen.has("created") || seen.has("pending") || seen.has("running")) return "running";
  if (seen.has("manual")) return "manual";
  if (seen.has("scheduled")) return "scheduled";
  if (seen.has("failed")) return "failed";
  if (seen.has("canceled")) return "canceled";
  return "failed";
}
