import type { Diagnostics } from "../diagnostics.ts";
import type { PlannedNeed } from "../plan.ts";
import { matrixCombinations, matrixJobName } from "./parallel-instances.ts";
import type { PendingJob } from "./plan-jobs.ts";

/**
 * Turns the needs and dependencies written in the YAML into concrete job names of this
 * pipeline: a need on a parallel job means all its instances, `parallel:matrix` picks some,
 * optional needs on absent jobs vanish, a required one on an absent job is an error.
 */
export function resolveNeeds(pending: PendingJob[], diagnostics: Diagnostics): void {
  const instancesByBase = new Map<string, string[]>();
  const stageIndexes = new Map<string, number>();
  for (const { job } of pending) {
    stageIndexes.set(job.name, job.stageIndex);
    const list = instancesByBase.get(job.baseName);
    if (list) list.push(job.name);
    else instancesByBase.set(job.baseName, [job.name]);
  }
  // Needs usually point to earlier stages only, and then they cannot form a cycle.
  let mayCycle = false;
  for (const entry of pending) {
    const { job, needSpecs } = entry;
    if (needSpecs) {
      const needs: PlannedNeed[] = [];
      for (const spec of needSpecs) {
        const names = spec.matrix
          ? spec.matrix
              .flatMap(matrixCombinations)
              .map((values) => matrixJobName(spec.job, values))
              .filter((name) => stageIndexes.has(name))
          : (instancesByBase.get(spec.job) ?? (stageIndexes.has(spec.job) ? [spec.job] : []));
        if (names.length === 0) {
          if (!spec.optional) {
            diagnostics.error(
              spec.position ?? job.position,
              `'${job.name}' job needs '${spec.job}' job, but '${spec.job}' does not exist in the pipeline. This might be because of the only, except, or rules keywords. To need a job that sometimes does not exist in the pipeline, use needs:optional.`,
            );
          }
          continue;
        }
        for (const name of names) {
          needs.push({ job: name, artifacts: spec.artifacts, optional: spec.optional });
          if ((stageIndexes.get(name) ?? -1) >= job.stageIndex) mayCycle = true;
        }
      }
      job.needs = needs;
    }
    if (job.dependencies) {
      job.dependencies = job.dependencies.flatMap((name) =>
        stageIndexes.has(name) ? [name] : (instancesByBase.get(name) ?? []),
      );
    }
  }
  if (mayCycle) checkCycles(pending, diagnostics);
}

function checkCycles(pending: PendingJob[], diagnostics: Diagnostics): void {
  const byName = new Map(pending.map((entry) => [entry.job.name, entry.job]));
  const state = new Map<string, 1 | 2>();
  const visit = (name: string): boolean => {
    const seen = state.get(name);
    if (seen === 2) return false;
    if (seen === 1) return true;
    state.set(name, 1);
    for (const need of byName.get(name)?.needs ?? []) if (visit(need.job)) return true;
    state.set(name, 2);
    return false;
  };
  for (const { job } of pending) {
    if (visit(job.name)) {
      diagnostics.error(job.position, "The pipeline has circular dependencies");
      return;
    }
  }
}
