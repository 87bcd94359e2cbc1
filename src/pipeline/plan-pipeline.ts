import { compileConfig, type CompiledConfig, type CompileSettings } from "./compile-config.ts";
import { Diagnostics } from "./diagnostics.ts";
import type { VariableLookup } from "./expression/index.ts";
import { normaliseConfig } from "./model/normalise-config.ts";
import type { PipelineModel, YamlVariable } from "./model/pipeline-model.ts";
import { NoPipelineError } from "./pipeline-error.ts";
import type { Plan, PlanOptions, PlannedJob } from "./plan.ts";
import { checkStructure } from "./planning/check-structure.ts";
import { planJobs, type PendingJob, type PlannedFields } from "./planning/plan-jobs.ts";
import { resolveNeeds } from "./planning/resolve-needs.ts";
import { matchRules } from "./rules/rule.ts";
import { expandValue, resolveVariables, type PipelineVariable } from "./variables/expand.ts";

/**
 * From a repository and a pipeline context to the Plan GitLab would create. Throws a
 * PipelineError carrying every problem found, or a NoPipelineError when workflow:rules (or an
 * empty result) mean GitLab would create no pipeline.
 */
export async function planPipeline(options: PlanOptions): Promise<Plan> {
  return planWith(options, "all");
}

/** What `pier list` shows of a planned job. */
export type ListedPlanJob = Pick<PlannedJob, "name" | "stage" | "when" | "allowFailure" | "needs">;

export interface ListedPlan {
  stages: string[];
  jobs: ListedPlanJob[];
  warnings: Plan["warnings"];
}

/**
 * planPipeline for `pier list` and `pier lint`: the same jobs, in the same order, and the same
 * problems, but each job carries only what the list shows (its variables and keywords are not
 * made).
 */
export async function listPipeline(options: PlanOptions): Promise<ListedPlan> {
  return planWith(options, "listed");
}

async function planWith(options: PlanOptions, fields: PlannedFields): Promise<Plan> {
  // Positions matter only in messages, and recording them all is a good part of the work: a
  // first pass records only the top-level keys' (the jobs' positions, which the plan shows).
  // Anything to report, and the pipeline is planned again with every position recorded, so
  // messages are exactly those of a full pass.
  const settings: CompileSettings = { positions: "top-keys" };
  try {
    const diagnostics = new Diagnostics();
    const plan = await planOnce(options, diagnostics, settings, fields);
    if (diagnostics.items.length === 0) return plan;
  } catch {
    // Reported by the full pass.
  }
  return planOnce(
    options,
    new Diagnostics(),
    { ...(settings.context ? { context: settings.context } : {}) },
    fields,
  );
}

/** planPipeline with the given settings; `settings.context` is set once the context is read. */
async function planOnce(
  options: PlanOptions,
  diagnostics: Diagnostics,
  settings: CompileSettings,
  fields: PlannedFields,
): Promise<Plan> {
  const { model, context, pipelineVariables } = await loadModel(options, diagnostics, settings);

  const predefined = pipelineVariables.filter(([key]) => !Object.hasOwn(options.variables, key));
  const rawGlobal = new Map<string, string>(predefined);
  for (const variable of model.variables) rawGlobal.set(variable.key, variable.value);
  for (const [key, value] of Object.entries(options.variables)) rawGlobal.set(key, value);
  const lookup: VariableLookup = (key) => rawGlobal.get(key);

  let globalVariables: YamlVariable[] = model.variables;
  if (model.workflow?.rules) {
    const match = matchRules(model.workflow.rules, { lookup, context });
    if (!match || match.rule.when === "never")
      throw new NoPipelineError("Pipeline filtered out by workflow rules.");
    const ruleVariables = Object.entries(match.rule.variables ?? {}).map(([key, value]) => ({
      key,
      value,
      expand: true,
    }));
    if (ruleVariables.length > 0) {
      const overridden = new Set(ruleVariables.map((variable) => variable.key));
      globalVariables = [
        ...model.variables.filter((variable) => !overridden.has(variable.key)),
        ...ruleVariables,
      ];
    }
  }

  const pending = planJobs(
    { model, context, predefined, globalVariables, user: options.variables, diagnostics },
    fields,
  );
  resolveNeeds(pending, diagnostics);
  diagnostics.throwIfErrors();
  const jobs = inStageOrder(pending, model.stages.length);
  if (jobs.every((job) => job.stage === ".pre" || job.stage === ".post")) {
    throw new NoPipelineError("No stages / jobs for this pipeline.");
  }

  const plan: Plan = { stages: model.stages, jobs, variables: [], warnings: diagnostics.warnings };
  // The list shows neither the pipeline's variables nor its name (and neither reports a problem).
  if (fields === "listed") return plan;
  const pipelineOrdered: Array<[string, PipelineVariable]> = [
    ...predefined.map(([key, value]): [string, PipelineVariable] => [key, { value, expand: true }]),
    ...globalVariables.map((variable): [string, PipelineVariable] => [
      variable.key,
      { value: variable.value, expand: variable.expand },
    ]),
    ...Object.entries(options.variables).map(([key, value]): [string, PipelineVariable] => [
      key,
      { value, expand: true },
    ]),
  ];
  const resolved = resolveVariables(pipelineOrdered);
  const expandFlags = new Map(pipelineOrdered.map(([key, variable]) => [key, variable.expand]));
  plan.variables = [...resolved.values].map(([key, value]) => ({
    key,
    value,
    expand: expandFlags.get(key) ?? true,
  }));
  if (model.workflow?.name !== undefined) {
    plan.name = expandValue(model.workflow.name, (key) => resolved.values.get(key));
  }
  return plan;
}

/** The normalised model; the merged configuration it came from is left for the collector. */
async function loadModel(
  options: PlanOptions,
  diagnostics: Diagnostics,
  settings: CompileSettings,
): Promise<{
  model: PipelineModel;
  context: CompiledConfig["context"];
  pipelineVariables: CompiledConfig["pipelineVariables"];
}> {
  const compiled = await compileConfig(options, diagnostics, settings);
  if (compiled) settings.context = compiled.context;
  diagnostics.throwIfErrors();
  if (!compiled) throw new Error("compileConfig returned nothing without reporting an error");
  const model = normaliseConfig(compiled.config, options.file, diagnostics, settings.positions);
  checkStructure(model, diagnostics);
  diagnostics.throwIfErrors();
  return { model, context: compiled.context, pipelineVariables: compiled.pipelineVariables };
}

/** The planned jobs by stage, in their order within a stage (a stable sort, without calls). */
function inStageOrder(pending: PendingJob[], stageCount: number): PlannedJob[] {
  const byStage: PlannedJob[][] = Array.from({ length: stageCount }, () => []);
  const unstaged: PlannedJob[] = [];
  for (const { job } of pending) (byStage[job.stageIndex] ?? unstaged).push(job);
  return unstaged.concat(...byStage);
}
