import type { Diagnostics } from "../diagnostics.ts";
import type { JobModel, NeedSpec, PipelineModel } from "../model/pipeline-model.ts";
import { parallelInstances } from "./parallel-instances.ts";

/**
 * GitLab's logical validations that do not depend on rules: stages exist, needs and
 * dependencies name existing jobs in the current or an earlier stage.
 */
export function checkStructure(model: PipelineModel, diagnostics: Diagnostics): void {
  const jobs = new Map<string, JobModel>();
  for (const job of model.jobs) jobs.set(job.name, job);
  // After parallel expansion GitLab also knows each instance by its own name.
  for (const job of model.jobs) {
    const instances = parallelInstances(job);
    if (instances)
      for (const instance of instances) if (!jobs.has(instance.name)) jobs.set(instance.name, job);
  }
  const stageIndexes = new Map<string, number>();
  model.stages.forEach((stage, index) => {
    if (!stageIndexes.has(stage)) stageIndexes.set(stage, index);
  });
  const stageIndex = (stage: string): number => stageIndexes.get(stage) ?? -1;
  const checkNeeds = (job: JobModel, own: number, needs: NeedSpec[]): void => {
    for (const need of needs) {
      const target = jobs.get(need.job);
      if (!target) {
        if (!need.optional)
          diagnostics.error(
            need.position ?? job.position,
            `${job.name} job: undefined need: ${need.job}`,
          );
        continue;
      }
      if (stageIndex(target.stage) > own) {
        diagnostics.error(
          need.position ?? job.position,
          `${job.name} job: need ${need.job} is not defined in current or prior stages`,
        );
      }
    }
  };
  for (const job of model.jobs) {
    const own = stageIndex(job.stage);
    if (own < 0) {
      diagnostics.error(
        job.stagePosition ?? job.position,
        `${job.name} job: chosen stage ${job.stage} does not exist; available stages are ${model.stages.join(", ")}`,
      );
      continue;
    }
    if (job.needs) checkNeeds(job, own, job.needs);
    if (job.rules)
      for (const rule of job.rules) if (rule.needSpecs) checkNeeds(job, own, rule.needSpecs);
    if (!job.dependencies) continue;
    for (const dependency of job.dependencies) {
      const target = jobs.get(dependency);
      if (!target) {
        diagnostics.error(
          job.dependenciesPosition ?? job.position,
          `${job.name} job: undefined dependency: ${dependency}`,
        );
      } else if (stageIndex(target.stage) > own) {
        diagnostics.error(
          job.dependenciesPosition ?? job.position,
          `${job.name} job: dependency ${dependency} is not defined in current or prior stages`,
        );
      }
    }
  }
}
