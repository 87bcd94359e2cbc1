import type { PlanVariable } from "../plan.ts";
import type { PipelineVariable } from "../variables/expand.ts";
import { resolveVariables } from "../variables/expand.ts";
import type { YamlVariable } from "../model/pipeline-model.ts";

export interface VariableLayers {
  predefined: Array<[string, string]>;
  /** Global YAML variables and workflow:rules variables the job inherits. */
  inherited: YamlVariable[];
  job: YamlVariable[];
  matrix: Record<string, string>;
  rule: Record<string, string>;
  /** `--variable` ones: highest precedence. */
  user: Record<string, string>;
}

const referencePattern =
  /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|%([A-Za-z_][A-Za-z0-9_]*)%/g;

/** Raw values in precedence order, as rules see them (no nested expansion). */
export function rawLookupMap(layers: Omit<VariableLayers, "rule">): Map<string, string> {
  const map = new Map<string, string>(layers.predefined);
  for (const variable of layers.inherited) map.set(variable.key, variable.value);
  for (const variable of layers.job) map.set(variable.key, variable.value);
  for (const [key, value] of Object.entries(layers.matrix)) map.set(key, value);
  for (const [key, value] of Object.entries(layers.user)) map.set(key, value);
  return map;
}

/**
 * The job's variables after GitLab's precedence (user > rule > matrix > job > inherited >
 * predefined), expanded as at pipeline creation. Returns the non-predefined variables and the
 * full value map for expanding other keywords.
 */
export function jobVariables(layers: VariableLayers): {
  variables: PlanVariable[];
  values: Map<string, string>;
  errors: string[];
} {
  const ordered: Array<[string, PipelineVariable]> = [];
  const own = new Map<string, boolean>();
  const add = (key: string, value: string, expand: boolean): void => {
    ordered.push([key, { value, expand }]);
    own.set(key, expand);
  };
  for (const variable of layers.inherited) add(variable.key, variable.value, variable.expand);
  for (const variable of layers.job) add(variable.key, variable.value, variable.expand);
  for (const [key, value] of Object.entries(layers.matrix)) add(key, value, true);
  for (const [key, value] of Object.entries(layers.rule)) add(key, value, true);
  for (const [key, value] of Object.entries(layers.user)) add(key, value, true);
  // Only the predefined variables the job's own values refer to take part in the expansion:
  // the result is the same and a thousand jobs do not each sort eighty variables.
  const referenced = new Set<string>();
  for (const [, variable] of ordered) {
    if (!variable.expand || (!variable.value.includes("$") && !variable.value.includes("%")))
      continue;
    for (const match of variable.value.matchAll(referencePattern))
      referenced.add(match[1] ?? match[2] ?? match[3] ?? "");
  }
  const predefined: Array<[string, PipelineVariable]> = [];
  for (const [key, value] of layers.predefined) {
    if (referenced.has(key)) predefined.push([key, { value, expand: true }]);
  }
  const { values, errors } = resolveVariables([...predefined, ...ordered]);
  for (const [key, value] of layers.predefined) if (!values.has(key)) values.set(key, value);
  const variables: PlanVariable[] = [];
  for (const [key, expand] of own) variables.push({ key, value: values.get(key) ?? "", expand });
  return { variables, values, errors };
}
