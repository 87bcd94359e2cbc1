import type { Diagnostics } from "../diagnostics.ts";
import type { NeedSpec } from "../model/pipeline-model.ts";
import type { PlannedNeed } from "../plan.ts";
import { matrixCombinations, matrixJobName } from "./parallel-instances.ts";
import type { PendingJob } from "./plan-jobs.ts";

/**
 * Turns the needs and dependencies written in the YAML into concrete job names of this
 * pipeline: a need on a parallel job means all its instances, `parallel:matrix` picks some,
 * optional needs on absent jobs vanish, a required one on an absent job is an error.
 */
export function resolveNeeds(pending: PendingJob[], diagnostics: Diagnostics): void {
  // Indexed loops and no list per plain job: this runs once per job, cold.
  const stageIndexes = new Map<string, number>();
  /** The instances of each parallel job (a plain job is known by its name alone). */
  const instancesByBase = new Map<string, string[]>();
  for (let index = 0; index < pending.length; index++) {
    const { job } = pending[index] as PendingJob;
    stageIndexes.set(job.name, job.stageIndex);
    if (job.baseName === job.name) continue;
    const list = instancesByBase.get(job.baseName);
    if (list) list.push(job.name);
    else instancesByBase.set(job.baseName, [job.name]);
  }
  // Needs usually point to earlier stages only, and then they cannot form a cycle.
  let mayCycle = false;
  for (let index = 0; index < pending.length; index++) {
    const { job, needSpecs } = pending[index] as PendingJob;
    if (needSpecs) {
      const needs: PlannedNeed[] = [];
      for (let specIndex = 0; specIndex < needSpecs.length; specIndex++) {
        const spec = needSpecs[specIndex] as NeedSpec;
        const instances = spec.matrix
          ? matrixInstances(spec.job, spec.matrix, stageIndexes)
          : instancesByBase.get(spec.job);
        const stageIndex = instances ? undefined : stageIndexes.get(spec.job);
        if (instances ? instances.length === 0 : stageIndex === undefined) {
          if (!spec.optional) {
            diagnostics.error(
              spec.position ?? job.position,
              `'${job.name}' job needs '${spec.job}' job, but '${spec.job}' does not exist in the pipeline. This might be because of the only, except, or rules keywords. To need a job that sometimes does not exist in the pipeline, use needs:optional.`,
            );
          }
          continue;
        }
        if (!instances) {
          needs.push({ job: spec.job, artifacts: spec.artifacts, optional: spec.optional });
          if ((stageIndex as number) >= job.stageIndex) mayCycle = true;
          continue;
        }
        for (let instance = 0; instance < instances.length; instance++) {
          const name = instances[instance] as string;
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

/** The instances of `base` in the pipeline that the `parallel:matrix` of a need picks. */
function matrixInstances(
  base: string,
  matrix: NonNullable<NeedSpec["matrix"]>,
  stageIndexes: ReadonlyMap<string, number>,
): string[] {
  return matrix
    .flatMap(matrixCombinations)
    .map((values) => matrixJobName(base, values))
    .filter((name) => stageIndexes.has(name));
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
