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
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(plan.jobs.map(listedJob), null, 2)}\n`);
    return;
  }
  const header = ["NAME", "STAGE", "WHEN", "ALLOW_FAILURE", "NEEDS"];
  const rows: string[][] = [header];
  const widths = header.map((title) => title.length);
  for (const job of plan.jobs) {
    const row = [
      job.name,
      job.stage,
      job.when,
      typeof job.allowFailure === "boolean"
        ? String(job.allowFailure)
        : `exit_codes ${job.allowFailure.exitCodes.join(",")}`,
      neededNames(job),
    ];
    for (let column = 0; column < row.length - 1; column++)
      widths[column] = Math.max(widths[column] ?? 0, (row[column] as string).length);
    rows.push(row);
  }
  let text = "";
  for (const row of rows) {
    let line = "";
    for (let column = 0; column < row.length - 1; column++)
      line += `${(row[column] as string).padEnd(widths[column] ?? 0)}  `;
    text += `${(line + (row[row.length - 1] as string)).trimEnd()}\n`;
  }
  process.stdout.write(text);
}

/** The NEEDS column: empty when the job waits for earlier stages, `[]` when it needs nothing. */
function neededNames(job: PlannedJob): string {
  if (!job.needs) return "";
  if (job.needs.length === 0) return "[]";
  return job.needs.map((need) => need.job).join(", ");
}
