import { planPipeline } from "../../pipeline/plan-pipeline.ts";
import { NoPipelineError } from "../../pipeline/pipeline-error.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

/** `pier lint`: "valid", or every error (PipelineError, exit 2). Warnings go to stderr. */
export async function lintCommand(flags: PipelineFlags): Promise<void> {
  try {
    const plan = await planPipeline(planOptionsFrom(flags));
    printWarnings(plan.warnings);
    process.stdout.write("valid\n");
  } catch (error) {
    if (!(error instanceof NoPipelineError)) throw error;
    process.stdout.write(
      `valid (for this context GitLab would create no pipeline: ${error.message})\n`,
    );
  }
}
