import { listPipeline } from "../../pipeline/plan-pipeline.ts";
import { NoPipelineError } from "../../pipeline/pipeline-error.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

/** `pier lint`: "valid", or every error (PipelineError, exit 2). Warnings go to stderr. */
export async function lintCommand(flags: PipelineFlags): Promise<void> {
  try {
    // The list's plan: the same problems, without making what running the jobs needs.
    const plan = await listPipeline(planOptionsFrom(flags));
    printWarnings(plan.warnings);
    process.stdout.write("valid\n");
  } catch (error) {
    if (!(error instanceof NoPipelineError)) throw error;
    process.stdout.write(
      `valid (for this context GitLab would create no pipeline: ${error.message})\n`,
    );
  }
}
