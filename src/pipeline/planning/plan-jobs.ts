import type { PipelineContext } from "../context/index.ts";
import { predefinedJobVariables } from "../context/index.ts";
import type { JobIdentity } from "../context/predefined-variables.ts";
import type { Diagnostics } from "../diagnostics.ts";
import { parseDuration } from "../model/duration.ts";
import type {
  JobModel,
  NeedSpec,
  PipelineModel,
  RuleSpec,
  YamlVariable,
} from "../model/pipeline-model.ts";
import type {
  PlanVariable,
  PlannedArtifacts,
  PlannedCache,
  PlannedEnvironment,
  PlannedImage,
  PlannedJob,
} from "../plan.ts";
import { onlyExceptAllows } from "../rules/only-except.ts";
import { expandValue } from "../variables/expand.ts";
import {
  JobPredefined,
  jobVariables,
  JobVariablesCache,
  mayHaveReferenceCycle,
  PredefinedVariables,
  rawLookup,
  type VariableLayers,
} from "./job-variables.ts";
import { lazyFields } from "./lazy-fields.ts";
import { parallelInstances, type ParallelInstance } from "./parallel-instances.ts";
import { RulesMemo } from "./rules-memo.ts";

export interface JobPlanningInput {
  model: PipelineModel;
  context: PipelineContext;
  predefined: Array<[string, string]>;
  /** Global and workflow:rules variables, in that order. */
  globalVariables: YamlVariable[];
  user: Record<string, string>;
  diagnostics: Diagnostics;
}

/** A planned job with the needs still as written (resolved against the other jobs later). */
export interface PendingJob {
  job: PlannedJob;
  model: JobModel;
  needSpecs?: NeedSpec[];
}

const defaultOnly = { refs: ["branches", "tags"] };
/** The one "instance" of a job without `parallel`. */
const notParallel: ReadonlyArray<ParallelInstance | undefined> = [undefined];
/** Matrix values of a job that has none (never changed). */
const noMatrix: Record<string, string> = {};
/** One object for "no rule variables", so that jobs without them share cached expansions. */
const noRuleVariables: Record<string, string> = {};

/** What the jobs of one planning share for making their fields later. */
interface PlanningRun {
  variablesCache: JobVariablesCache;
  diagnostics: Diagnostics;
}

interface Expansion {
  variables: PlanVariable[];
  expand: (text: string) => string;
}

/** What a planned job's lazy fields are made from. */
interface LazyJobState {
  name: string;
  job: JobModel;
  layers: VariableLayers;
  run: PlanningRun;
  expansion: Expansion | undefined;
}

/** The job's variables and the expansion of keywords with them, made once (reporting a cycle). */
function expansionOf(state: LazyJobState): Expansion {
  if (state.expansion) return state.expansion;
  const {
    variables,
    lookup: values,
    errors,
  } = jobVariables(state.layers, state.run.variablesCache);
  for (const error of errors)
    state.run.diagnostics.error(state.job.position, `${state.name}: ${error}`);
  state.expansion = {
    variables,
    expand: (text) => (text.includes("$") || text.includes("%") ? expandValue(text, values) : text),
  };
  return state.expansion;
}

const lazyJobFields = lazyFields<PlannedJob, LazyJobState>({
  services: (state) => {
    const { expand } = expansionOf(state);
    return state.job.services.map((service) => ({ ...service, name: expand(service.name) }));
  },
  variables: (state) => expansionOf(state).variables,
  predefinedVariables: (state) =>
    state.layers.jobPredefined.entries.map(([key, value]) => ({ key, value, expand: false })),
  cache: (state) => {
    const { expand } = expansionOf(state);
    return state.job.cache.map((cache) => expandCache(cache, expand));
  },
  tags: (state) => state.job.tags.map(expansionOf(state).expand),
  resourceGroup: (state) => expansionOf(state).expand(state.job.resourceGroup ?? ""),
  image: (state) => {
    const image = state.job.image as PlannedImage;
    return { ...image, name: expansionOf(state).expand(image.name) };
  },
  artifacts: (state) => {
    const artifacts = state.job.artifacts as PlannedArtifacts;
    const { expand } = expansionOf(state);
    return {
      ...artifacts,
      paths: artifacts.paths.map(expand),
      exclude: artifacts.exclude.map(expand),
      ...(artifacts.name !== undefined ? { name: expand(artifacts.name) } : {}),
    };
  },
  environment: (state) => {
    const environment = state.job.environment as PlannedEnvironment;
    const { expand } = expansionOf(state);
    const result = { ...environment, name: expand(environment.name) };
    if (environment.url !== undefined) result.url = expand(environment.url);
    return result;
  },
});

/**
 * Applies rules / only-except, parallel expansion, variables and creation-time expansion to each job.
 * With `fields: "listed"` the jobs get only what `pier list` shows and resolveNeeds reads (name,
 * baseName, stage, stageIndex, when, allowFailure, position); every problem is still reported.
 */
export function planJobs(input: JobPlanningInput, fields: PlannedFields = "all"): PendingJob[] {
  const { model, context, diagnostics } = input;
  const complete = fields === "all";
  const pending: PendingJob[] = [];
  const hasWorkflowRules = model.workflow?.rules !== undefined;
  let nextId = 1;
  const pipelinePredefined = new PredefinedVariables(input.predefined);
  const run: PlanningRun = { variablesCache: new JobVariablesCache(), diagnostics };
  const rulesMemo = new RulesMemo(context);
  // Every name a job's own predefined variables can have (a parallel job's list is the longest).
  const jobPredefinedNames = new Set(
    predefinedJobVariables(
      { name: "job", stage: "test", id: 1, nodeIndex: 1, nodeTotal: 2 },
      context,
    ).map(([key]) => key),
  );
  const stageIndexes = new Map<string, number>();
  model.stages.forEach((stage, index) => {
    if (!stageIndexes.has(stage)) stageIndexes.set(stage, index);
  });
  // Indexed loops: this runs once per job, cold, where an iterator costs an object per step.
  const jobs = model.jobs;
  for (let jobIndex = 0; jobIndex < jobs.length; jobIndex++) {
    const job = jobs[jobIndex] as JobModel;
    const stageIndex = stageIndexes.get(job.stage) ?? -1;
    const inherited = inheritedVariables(job, input.globalVariables);
    const instances: ReadonlyArray<ParallelInstance | undefined> =
      parallelInstances(job) ?? notParallel;
    for (let instanceIndex = 0; instanceIndex < instances.length; instanceIndex++) {
      const instance = instances[instanceIndex];
      const name = instance?.name ?? job.name;
      const identity: JobIdentity = instance
        ? {
            name,
            stage: job.stage,
            id: nextId++,
            nodeIndex: instance.index,
            nodeTotal: instance.total,
          }
        : { name, stage: job.stage, id: nextId++ };
      const jobPredefined = new JobPredefined(jobPredefinedNames, () =>
        predefinedJobVariables(identity, context),
      );
      const matrix = instance?.matrix ?? noMatrix;
      const lookup = rawLookup(
        pipelinePredefined.lookup(jobPredefined),
        inherited,
        job.variables,
        matrix,
        input.user,
      );
      let rule: RuleSpec | undefined;
      if (job.rules) {
        const match = rulesMemo.match(job.rules, lookup);
        if (!match) continue;
        rule = match.rule as RuleSpec;
      } else if (
        !onlyExceptAllows(job.only ?? (hasWorkflowRules ? undefined : defaultOnly), job.except, {
          lookup,
          context,
        })
      ) {
        continue;
      }
      const when = rule?.when ?? job.when;
      if (when === "never") continue;
      const layers: VariableLayers = {
        predefined: pipelinePredefined,
        jobPredefined,
        inherited,
        job: job.variables,
        matrix,
        rule: rule?.variables ?? noRuleVariables,
        user: input.user,
      };
      // The variables and the keywords expanded with them are made when first read (`pier
      // list` reads none): only a reference cycle, the one error they can have, is looked for
      // now, and when there may be one they are made now to report it.
      const mayCycle = mayHaveReferenceCycle(layers, run.variablesCache);
      const state: LazyJobState | undefined =
        complete || mayCycle ? { name, job, layers, run, expansion: undefined } : undefined;
      if (mayCycle) expansionOf(state as LazyJobState);

      const planned = {
        name,
        baseName: job.name,
        stage: job.stage,
        stageIndex,
        when,
        allowFailure: allowFailureOf(job, rule),
      } as PlannedJob;
      // Fields are added in one order whatever the job (plan --json shows them in that order).
      if (complete) addExecutionFields(planned, job, rule, state as LazyJobState);
      planned.position = job.position;
      const startIn =
        rule?.startIn !== undefined ? parseDuration(rule.startIn) : job.startInSeconds;
      if (when === "delayed") {
        if (startIn === undefined)
          diagnostics.error(
            rule?.position ?? job.position,
            `jobs:${job.name} start in should be a duration`,
          );
        else planned.startInSeconds = startIn;
      }
      if (complete && job.dependencies) planned.dependencies = job.dependencies;
      if (complete) addRunFields(planned, job, instance);
      const needSpecs = rule?.needSpecs ?? job.needs;
      pending.push(
        needSpecs ? { job: planned, model: job, needSpecs } : { job: planned, model: job },
      );
    }
  }
  return pending;
}

/** Every field of a planned job, or only those `pier list` reads (see planJobs). */
export type PlannedFields = "all" | "listed";

/** What the job runs, with its variables and the keywords expanded with them made when read. */
function addExecutionFields(
  planned: PlannedJob,
  job: JobModel,
  rule: RuleSpec | undefined,
  state: LazyJobState,
): void {
  planned.retry = job.retry;
  planned.interruptible = rule?.interruptible ?? job.interruptible;
  // Each lazy field costs a defineProperty (a call into the runtime): empty lists, which
  // need no expanding, are plain fields.
  lazyJobFields.attach(planned, state);
  if (job.services.length === 0) planned.services = [];
  else lazyJobFields.define(planned, "services");
  planned.beforeScript = job.beforeScript;
  planned.script = job.script;
  planned.afterScript = job.afterScript;
  lazyJobFields.define(planned, "variables");
  // Built when read (plan output, job payloads), not for every listed job.
  lazyJobFields.define(planned, "predefinedVariables");
  if (job.cache.length === 0) planned.cache = [];
  else lazyJobFields.define(planned, "cache");
  if (job.tags.length === 0) planned.tags = [];
  else lazyJobFields.define(planned, "tags");
}

/** The rest of what running the job needs, after its position, start and dependencies. */
function addRunFields(
  planned: PlannedJob,
  job: JobModel,
  instance: ParallelInstance | undefined,
): void {
  if (job.timeoutSeconds !== undefined) planned.timeoutSeconds = job.timeoutSeconds;
  if (job.resourceGroup !== undefined) lazyJobFields.define(planned, "resourceGroup");
  if (job.image) lazyJobFields.define(planned, "image");
  if (job.artifacts) lazyJobFields.define(planned, "artifacts");
  if (job.environment) lazyJobFields.define(planned, "environment");
  if (job.coverage !== undefined) planned.coverage = job.coverage;
  if (instance) {
    planned.parallel = { index: instance.index, total: instance.total };
    if (instance.matrix) planned.parallel.matrix = instance.matrix;
  }
  if (job.trigger !== undefined) planned.trigger = job.trigger;
  if (job.hooks) planned.hooks = job.hooks;
}

function inheritedVariables(job: JobModel, global: YamlVariable[]): YamlVariable[] {
  if (job.inheritVariables === true) return global;
  if (job.inheritVariables === false) return [];
  const allowed = new Set(job.inheritVariables);
  return global.filter((variable) => allowed.has(variable.key));
}

/**
 * Job-level `when: manual` defaults to allow_failure true; a rule's `when: manual` does not
 * (the job's own value, default false). A rule's allow_failure wins over the job's.
 */
function allowFailureOf(
  job: JobModel,
  rule: RuleSpec | undefined,
): boolean | { exitCodes: number[] } {
  if (rule?.allowFailure !== undefined) return rule.allowFailure;
  if (job.allowFailure !== undefined) return job.allowFailure;
  if (rule?.when !== undefined) return false;
  return job.when === "manual";
}

function expandCache(cache: PlannedCache, expand: (text: string) => string): PlannedCache {
  const result: PlannedCache = {
    ...cache,
    key: expand(cache.key),
    paths: cache.paths.map(expand),
    policy: expand(cache.policy),
    fallbackKeys: cache.fallbackKeys.map(expand),
  };
  if (cache.keyPrefix !== undefined) result.keyPrefix = expand(cache.keyPrefix);
  return result;
}
