import type { PlannedJob } from "../pipeline/plan.ts";
import { UsageError } from "../errors.ts";

/**
 * The jobs `pier run JOB…` runs: those named (a parallel job's base name selects all its
 * instances) and, transitively, the jobs they need.
 */
export function selectJobs(jobs: readonly PlannedJob[], names: readonly string[]): PlannedJob[] {
  if (names.length === 0) return [...jobs];
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const selected = new Set<string>();
  const visit = (job: PlannedJob): void => {
    if (selected.has(job.name)) return;
    selected.add(job.name);
    for (const need of job.needs ?? []) {
      const needed = byName.get(need.job);
      if (needed !== undefined) visit(needed);
    }
  };
  const unknown: string[] = [];
  for (const name of names) {
    const matches = jobs.filter((job) => job.name === name || job.baseName === name);
    if (matches.length === 0) unknown.push(name);
    matches.forEach(visit);
  }
  if (unknown.length > 0) {
    const known = jobs.map((job) => job.name).join(", ");
    throw new UsageError(
      `no job named ${unknown.map((n) => `"${n}"`).join(", ")} in the pipeline (jobs: ${known})`,
    );
  }
  return jobs.filter((job) => selected.has(job.name));
}
