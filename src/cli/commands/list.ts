import { listPipeline, type ListedPlanJob } from "../../pipeline/plan-pipeline.ts";
import type { PlannedNeed } from "../../pipeline/plan.ts";
import { planOptionsFrom, printWarnings, type PipelineFlags } from "../pipeline-request.ts";

export interface ListedJob {
  name: string;
  stage: string;
  when: string;
  allow_failure: boolean | { exit_codes: number[] };
  /** null: waits for earlier stages. */
  needs: string[] | null;
}

export function listedJob(job: ListedPlanJob): ListedJob {
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
  const plan = await listPipeline(planOptionsFrom(flags));
  printWarnings(plan.warnings);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(plan.jobs.map(listedJob), null, 2)}\n`);
    return;
  }
  process.stdout.write(jobTable(plan.jobs));
}

const header = ["NAME", "STAGE", "WHEN", "ALLOW_FAILURE", "NEEDS"];
/** Columns padded to their width: all but the last (NEEDS). */
const padded = header.length - 1;

/**
 * The table: each column but the last as wide as its longest cell, two spaces apart, lines
 * without trailing blanks. Made as one join of its cells and shared runs of spaces: no array
 * or padded string per row (this runs once per listed job, cold).
 */
export function jobTable(jobs: readonly ListedPlanJob[]): string {
  // Arrays made at their final size: growing them copies them over and over.
  const cells = new Array<string>((jobs.length + 1) * header.length);
  for (let column = 0; column < header.length; column++) cells[column] = header[column] as string;
  const widths = [4, 5, 4, 13];
  for (let index = 0, first = header.length; index < jobs.length; index++) {
    const job = jobs[index] as ListedPlanJob;
    const allowFailure = allowFailureCell(job.allowFailure);
    cells[first++] = job.name;
    cells[first++] = job.stage;
    cells[first++] = job.when;
    cells[first++] = allowFailure;
    cells[first++] = neededNames(job);
    if (job.name.length > (widths[0] as number)) widths[0] = job.name.length;
    if (job.stage.length > (widths[1] as number)) widths[1] = job.stage.length;
    if (job.when.length > (widths[2] as number)) widths[2] = job.when.length;
    if (allowFailure.length > (widths[3] as number)) widths[3] = allowFailure.length;
  }
  const spaces: string[] = [];
  const parts = new Array<string>(cells.length * 2);
  let part = 0;
  for (let first = 0; first < cells.length; first += header.length) {
    // Lines are trimmed as a whole: with only blanks in NEEDS, the padding before it goes too.
    const needs = (cells[first + padded] as string).trimEnd();
    const paddedHere = needs === "" ? padded - 1 : padded;
    for (let column = 0; column < paddedHere; column++) {
      const cell = cells[first + column] as string;
      const padding = (widths[column] as number) - cell.length + 2;
      parts[part++] = cell;
      parts[part++] = spaces[padding] ??= " ".repeat(padding);
    }
    parts[part++] = needs === "" ? (cells[first + padded - 1] as string).trimEnd() : needs;
    parts[part++] = "\n";
  }
  parts.length = part;
  return parts.join("");
}

function allowFailureCell(allowFailure: ListedPlanJob["allowFailure"]): string {
  if (allowFailure === true) return "true";
  if (allowFailure === false) return "false";
  return `exit_codes ${allowFailure.exitCodes.join(",")}`;
}

/** The NEEDS column: empty when the job waits for earlier stages, `[]` when it needs nothing. */
function neededNames(job: ListedPlanJob): string {
  const needs = job.needs;
  if (!needs) return "";
  if (needs.length === 0) return "[]";
  let names = (needs[0] as PlannedNeed).job;
  for (let index = 1; index < needs.length; index++)
    names += `, ${(needs[index] as PlannedNeed).job}`;
  return names;
}
