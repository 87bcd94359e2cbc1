import type { Diagnostics } from "../diagnostics.ts";
import type { PositionDetail } from "../load/fast-yaml.ts";
import { isPlainObject } from "../load/plain-object.ts";
import { keyPositionOf, positionOf } from "../load/source-map.ts";
import type { SourcePosition } from "../plan.ts";
import {
  defaultKeys,
  defaultStages,
  reservedTopLevelKeys,
  topLevelDefaultKeys,
} from "./job-keys.ts";
import { JobNormaliser } from "./normalise-job.ts";
import { normaliseRules } from "./normalise-rules.ts";
import { normaliseVariables } from "./normalise-variables.ts";
import type { PipelineModel, WorkflowModel } from "./pipeline-model.ts";
import { flattenList, isString } from "./value-checks.ts";

const workflowWhens = new Set(["always", "never"]);

/**
 * The merged configuration (after includes, extends and `!reference`) as a typed model:
 * stages, global variables, workflow and every visible job with `default:` applied.
 * `positions`: what the configuration was loaded with; with "top-keys" every problem in a job
 * is reported at the job's name (looking deeper finds nothing).
 */
export function normaliseConfig(
  config: Record<string, unknown>,
  file: string,
  diagnostics: Diagnostics,
  positions: PositionDetail = "all",
): PipelineModel {
  const fileStart: SourcePosition = { file, line: 1, column: 1 };
  const at = (key: string): SourcePosition | undefined => keyPositionOf(config, key);

  const stages = normaliseStages(config, diagnostics);
  const variables = normaliseVariables(
    config["variables"],
    "variables",
    at("variables"),
    diagnostics,
    {
      allowDetails: true,
      allowExpand: true,
    },
  );
  const workflow = normaliseWorkflow(config["workflow"], at("workflow"), diagnostics);
  const defaults = collectDefaults(config, diagnostics);
  const inheritedKeys = Object.keys(defaults);
  const detailedPositions = positions === "all";

  const model: PipelineModel = { stages, variables, jobs: [] };
  if (workflow) model.workflow = workflow;
  const defaultStage = "test";
  let visible = 0;
  const normaliser = new JobNormaliser(diagnostics, detailedPositions);
  for (const name in config) {
    if (reservedTopLevelKeys.has(name) || name.startsWith(".")) continue;
    const value = config[name];
    const position = keyPositionOf(config, name) ?? fileStart;
    if (!isPlainObject(value)) {
      diagnostics.error(
        position,
        `jobs ${name} config should implement the script:, run:, or trigger: keyword`,
      );
      continue;
    }
    visible++;
    if (name.length > 255)
      diagnostics.error(position, `jobs:${name} name is too long (maximum is 255 characters)`);
    const inherited = applicableDefaults(value, defaults, inheritedKeys);
    model.jobs.push(normaliser.normalise(name, value, inherited, position, defaultStage));
  }
  if (visible === 0)
    diagnostics.error(
      positionOf(config) ?? fileStart,
      "jobs config should contain at least one visible job",
    );
  return model;
}

function normaliseStages(config: Record<string, unknown>, diagnostics: Diagnostics): string[] {
  const value = config["stages"] ?? config["types"];
  let user = defaultStages;
  if (value !== undefined && value !== null) {
    const list = Array.isArray(value) ? flattenList(value) : undefined;
    if (!list || !list.every(isString)) {
      diagnostics.error(
        keyPositionOf(config, "stages"),
        "stages config should be an array of strings",
      );
    } else user = list;
  }
  const stages = [".pre"];
  for (const stage of user)
    if (stage !== ".pre" && stage !== ".post" && !stages.includes(stage)) stages.push(stage);
  stages.push(".post");
  return stages;
}

function normaliseWorkflow(
  value: unknown,
  position: SourcePosition | undefined,
  diagnostics: Diagnostics,
): WorkflowModel | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) {
    diagnostics.error(position, "workflow config should be a hash");
    return undefined;
  }
  const unknown = Object.keys(value).filter(
    (key) => !["rules", "name", "auto_cancel"].includes(key),
  );
  if (unknown.length > 0)
    diagnostics.error(position, `workflow config contains unknown keys: ${unknown.join(", ")}`);
  const workflow: WorkflowModel = {};
  if (value["name"] !== undefined) {
    if (isString(value["name"]) && value["name"].length <= 255) workflow.name = value["name"];
    else
      diagnostics.error(
        keyPositionOf(value, "name"),
        "workflow:name config should be a string of at most 255 characters",
      );
  }
  if (value["rules"] !== undefined && value["rules"] !== null) {
    const rules = normaliseRules(
      value["rules"],
      "workflow:rules",
      keyPositionOf(value, "rules"),
      diagnostics,
      null,
      workflowWhens,
    );
    if (rules) workflow.rules = rules;
  }
  if (isPlainObject(value["auto_cancel"])) workflow.autoCancel = value["auto_cancel"];
  return workflow;
}

function collectDefaults(
  config: Record<string, unknown>,
  diagnostics: Diagnostics,
): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  const section = config["default"];
  if (section !== undefined && section !== null) {
    if (!isPlainObject(section))
      diagnostics.error(keyPositionOf(config, "default"), "default config should be a hash");
    else {
      const unknown = Object.keys(section).filter((key) => !defaultKeys.has(key));
      if (unknown.length > 0) {
        diagnostics.error(
          keyPositionOf(section, unknown[0] ?? ""),
          `default config contains unknown keys: ${unknown.join(", ")}`,
        );
      }
      for (const key of Object.keys(section))
        if (defaultKeys.has(key)) defaults[key] = section[key];
    }
  }
  for (const key of topLevelDefaultKeys) {
    if (config[key] === undefined) continue;
    if (Object.hasOwn(defaults, key)) {
      diagnostics.error(
        keyPositionOf(config, key),
        `${key} is defined in top-level and \`default:\` entry`,
      );
    } else defaults[key] = config[key];
  }
  return defaults;
}

/**
 * The `default:` values a job inherits (for the keys it does not set itself), as `inherit:default`
 * allows; undefined for none. Read through, not copied into the job.
 */
function applicableDefaults(
  job: Record<string, unknown>,
  defaults: Record<string, unknown>,
  keys: string[],
): Readonly<Record<string, unknown>> | undefined {
  if (keys.length === 0) return undefined;
  if (job["trigger"] !== undefined && job["script"] === undefined) return undefined;
  const inherit = job["inherit"];
  const inheritDefault = isPlainObject(inherit) ? inherit["default"] : undefined;
  if (inheritDefault === false) return undefined;
  if (!Array.isArray(inheritDefault)) return defaults;
  const allowed = new Set(inheritDefault);
  const chosen: Record<string, unknown> = {};
  for (const key of keys) if (allowed.has(key)) chosen[key] = defaults[key];
  return chosen;
}
