import type { PlannedJob } from "../pipeline/plan.ts";

/**
 * The jobs whose artifacts (and dotenv variables) a job receives, by GitLab's rules: its
 * `dependencies` when given; else its needs with `artifacts: true`; else every job of the
 * earlier stages.
 */
export function artifactSources(job: PlannedJob, jobs: readonly PlannedJob[]): string[] {
  if (job.dependencies !== undefined) return job.dependencies;
  if (job.needs !== undefined)
    return job.needs.filter((need) => need.artifacts).map((need) => need.job);
  return jobs.filter((other) => other.stageIndex < job.stageIndex).map((other) => other.name);
}
