import { planPipeline } from "../../pipeline/plan-pipeline.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

/** `pier plan [--json]`: every job normalised, with its variables expanded as at creation. */
export async function planCommand(
  flags: PipelineFlags & { json?: boolean | undefined },
): Promise<void> {
  const plan = await planPipeline(planOptionsFrom(flags));
  printWarnings(plan.warnings);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  if (plan.name) lines.push(`pipeline: ${plan.name}`);
  for (const stage of plan.stages) {
    const jobs = plan.jobs.filter((job) => job.stage === stage);
    if (jobs.length === 0) continue;
    lines.push(`stage ${stage}`);
    for (const job of jobs) {
      const details: string[] = [job.when];
      if (job.allowFailure !== false) details.push("allow_failure");
      if (job.needs) details.push(`needs: [${job.needs.map((need) => need.job).join(", ")}]`);
      if (job.image) details.push(`image: ${job.image.name}`);
      if (job.trigger !== undefined) details.push("trigger (not run locally)");
      lines.push(`  ${job.name} (${details.join("; ")})`);
      for (const variable of job.variables) lines.push(`    ${variable.key}=${variable.value}`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
