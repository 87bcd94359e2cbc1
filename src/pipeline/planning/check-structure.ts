import type { Diagnostics } from "../diagnostics.ts";
import type { JobModel, NeedSpec, PipelineModel, RuleSpec } from "../model/pipeline-model.ts";
import { parallelInstances, type ParallelInstance } from "./parallel-instances.ts";

/**
 * GitLab's logical validations that do not depend on rules: stages exist, needs and
 * dependencies name existing jobs in the current or an earlier stage.
 */
export function checkStructure(model: PipelineModel, diagnostics: Diagnostics): void {
  // Indexed loops: this runs once per job, cold, where an iterator costs an object per step.
  const modelJobs = model.jobs;
  const jobs = new Map<string, JobModel>();
  for (let index = 0; index < modelJobs.length; index++) {
    const job = modelJobs[index] as JobModel;
    jobs.set(job.name, job);
  }
  // After parallel expansion GitLab also knows each instance by its own name.
  for (let index = 0; index < modelJobs.length; index++) {
    const job = modelJobs[index] as JobModel;
    const instances = parallelInstances(job);
    if (!instances) continue;
    for (let instance = 0; instance < instances.length; instance++) {
      const name = (instances[instance] as ParallelInstance).name;
      if (!jobs.has(name)) jobs.set(name, job);
    }
  }
  const stageIndexes = new Map<string, number>();
  for (let index = 0; index < model.stages.length; index++) {
    const stage = model.stages[index] as string;
    if (!stageIndexes.has(stage)) stageIndexes.set(stage, index);
  }
  const checkNeeds = (job: JobModel, own: number, needs: NeedSpec[]): void => {
    for (let index = 0; index < needs.length; index++) {
      const need = needs[index] as NeedSpec;
      const target = jobs.get(need.job);
      if (!target) {
        if (!need.optional)
          diagnostics.error(
            need.position ?? job.position,
            `${job.name} job: undefined need: ${need.job}`,
          );
        continue;
      }
      if ((stageIndexes.get(target.stage) ?? -1) > own) {
        diagnostics.error(
          need.position ?? job.position,
          `${job.name} job: need ${need.job} is not defined in current or prior stages`,
        );
      }
    }
  };
  for (let index = 0; index < modelJobs.length; index++) {
    const job = modelJobs[index] as JobModel;
    const own = stageIndexes.get(job.stage) ?? -1;
    if (own < 0) {
      diagnostics.error(
        job.stagePosition ?? job.position,
        `${job.name} job: chosen stage ${job.stage} does not exist; available stages are ${model.stages.join(", ")}`,
      );
      continue;
    }
    if (job.needs) checkNeeds(job, own, job.needs);
    const rules = job.rules;
    if (rules)
      for (let rule = 0; rule < rules.length; rule++) {
        const needSpecs = (rules[rule] as RuleSpec).needSpecs;
        if (needSpecs) checkNeeds(job, own, needSpecs);
      }
    const dependencies = job.dependencies;
    if (!dependencies) continue;
    for (let dependency = 0; dependency < dependencies.length; dependency++) {
      const name = dependencies[dependency] as string;
      const target = jobs.get(name);
      if (!target) {
        diagnostics.error(
          job.dependenciesPosition ?? job.position,
          `${job.name} job: undefined dependency: ${name}`,
        );
      } else if ((stageIndexes.get(target.stage) ?? -1) > own) {
        diagnostics.error(
          job.dependenciesPosition ?? job.position,
          `${job.name} job: dependency ${name} is not defined in current or prior stages`,
        );
      }
    }
  }
}
