import { planPipeline } from "../../pipeline/plan-pipeline.ts";
import type { PlannedJob } from "../../pipeline/plan.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

export interface ListedJob {
  name: string;
  stage: string;
  when: string;
  allow_failure: boolean | { exit_codes: number[] };
  /** null: waits for earlier stages. */
  needs: string[] | null;
}

export function listedJob(job: PlannedJob): ListedJob {
  return {
    name: job.name,
    stage: job.stage,
    when: job.when,
    allow_failure:
      typeof job.allowFailure === "boolean"
        ? job.allowFailure
        : { exit_codes: job.allowFailure.exitCodes },
    needs: job.needs ? job.needs.map((need) => need.job) : null,
  };
}

/** `pier list [--json]`: the jobs the pipeline would have, in stage order. */
export async function listCommand(
  flags: PipelineFlags & { json?: boolean | undefined },
): Promise<void> {
  const plan = await planPipeline(planOptionsFrom(flags));
  printWarnings(plan.warnings);
  const jobs = plan.jobs.map(listedJob);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
    return;
  }
  const rows = [
    ["NAME", "STAGE", "WHEN", "ALLOW_FAILURE", "NEEDS"],
    ...jobs.map((job) => [
      job.name,
      job.stage,
      job.when,
      typeof job.allow_failure === "boolean"
        ? String(job.allow_failure)
        : `exit_codes ${job.allow_failure.exit_codes.join(",")}`,
      job.needs === null ? "" : job.needs.length === 0 ? "[]" : job.needs.join(", "),
    ]),
  ];
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length))) ?? [];
  const lines = rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
  process.stdout.write(`${lines.join("\n")}\n`);
}
