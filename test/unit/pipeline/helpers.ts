import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A temporary directory with the given files; remove it with the returned function. */
export function tempRepo(files: Record<string, string | Buffer>): {
  dir: string;
  remove: () => void;
} {
  const dir = mkdtempSync(join(tmpdir(), "pier-pipeline-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

import { planPipeline } from "../../../src/pipeline/plan-pipeline.ts";
import type { Plan, PlanOptions, PlannedJob } from "../../../src/pipeline/plan.ts";
import { PipelineError } from "../../../src/pipeline/pipeline-error.ts";

/** Plans `.gitlab-ci.yml` (plus other files) in a temporary directory. */
export async function planFrom(
  yaml: string,
  options: Partial<PlanOptions> & { files?: Record<string, string> } = {},
): Promise<Plan> {
  const repo = tempRepo({ ".gitlab-ci.yml": yaml, ...options.files });
  try {
    const { files: _files, ...rest } = options;
    return await planPipeline({
      repoDir: repo.dir,
      file: ".gitlab-ci.yml",
      variables: {},
      branch: "main",
      ...rest,
    });
  } finally {
    repo.remove();
  }
}

/** The error messages (with positions) planning reports, or [] when it succeeds. */
export async function planErrors(
  yaml: string,
  options: Partial<PlanOptions> & { files?: Record<string, string> } = {},
): Promise<string[]> {
  try {
    await planFrom(yaml, options);
    return [];
  } catch (error) {
    if (error instanceof PipelineError) {
      return error.diagnostics
        .filter((d) => d.severity === "error")
        .map((d) => `${d.line}:${d.column}: ${d.message}`);
    }
    throw error;
  }
}

/** The names of the plan's jobs, in the plan's order. */
export function jobNames(plan: Plan): string[] {
  return plan.jobs.map((job) => job.name);
}

/** The planned job with this name; throws (naming the jobs there are) when there is none. */
export function jobNamed(plan: Plan, name: string): PlannedJob {
  const found = plan.jobs.find((job) => job.name === name);
  if (!found) throw new Error(`no job ${name} in ${jobNames(plan).join(", ")}`);
  return found;
}

/** The variables of the job with this name, as KEY → value. */
export function jobVariables(plan: Plan, name: string): Record<string, string> {
  return Object.fromEntries(jobNamed(plan, name).variables.map((v) => [v.key, v.value]));
}
