import type { Diagnostics } from "../diagnostics.ts";
import { isPlainObject } from "../load/plain-object.ts";
import { keyPositionOf } from "../load/source-map.ts";
import type { SourcePosition } from "../plan.ts";
import type { YamlVariable } from "./pipeline-model.ts";
import { isStringList, scalarText } from "./value-checks.ts";

/** What a `variables:` mapping may say besides values: GitLab accepts different keys by place. */
export interface VariablesOptions {
  /** `description` and `options` (top level). */
  allowDetails: boolean;
  /** `expand`. */
  allowExpand: boolean;
}

/**
 * `variables:` at top level (`allowDetails`: description/options) or in a job. Values must be
 * strings or integers; `{value, expand}` objects are accepted where GitLab accepts them.
 */
export function normaliseVariables(
  value: unknown,
  path: string,
  position: SourcePosition | undefined,
  diagnostics: Diagnostics,
  options: VariablesOptions,
): YamlVariable[] {
  if (value === undefined || value === null) return noVariables;
  if (!isPlainObject(value)) {
    diagnostics.error(position, invalidMessage(path));
    return [];
  }
  // Jobs share the `variables:` of the templates they extend: read each mapping once.
  const known = clean.get(value);
  if (
    known &&
    known.options.allowDetails === options.allowDetails &&
    known.options.allowExpand === options.allowExpand
  )
    return known.variables;
  const before = diagnostics.items.length;
  const variables = readVariables(value, path, diagnostics, options);
  if (diagnostics.items.length === before) clean.set(value, { options, variables });
  return variables;
}

/** Names seen valid: jobs repeat the same few (a Set lookup costs less than the pattern). */
const validNames = new Set<string>();

function isVariableName(key: string): boolean {
  if (validNames.has(key)) return true;
  if (!/^[A-Za-z0-9_]+$/.test(key)) return false;
  if (validNames.size < 10_000) validNames.add(key);
  return true;
}

/** Shared by everything without variables (never changed by callers). */
const noVariables: YamlVariable[] = [];
/** Mappings read without a problem, with what they gave (problems are reported each time). */
const clean = new WeakMap<object, { options: VariablesOptions; variables: YamlVariable[] }>();

function invalidMessage(path: string): string {
  return `${path} config should be a hash of key value pairs`;
}

function readVariables(
  value: Record<string, unknown>,
  path: string,
  diagnostics: Diagnostics,
  options: VariablesOptions,
): YamlVariable[] {
  const invalid = invalidMessage(path);
  const result: YamlVariable[] = [];
  for (const key in value) {
    const raw = value[key];
    if (!isVariableName(key)) {
      diagnostics.error(
        keyPositionOf(value, key),
        `${path} config uses invalid variable name: ${key}`,
      );
      continue;
    }
    const text = scalarText(raw);
    if (text !== undefined || raw === null) {
      result.push({ key, value: text ?? "", expand: true });
      continue;
    }
    const at = (): SourcePosition | undefined => keyPositionOf(value, key);
    if (!isPlainObject(raw)) {
      diagnostics.error(at(), invalid);
      continue;
    }
    const allowed = new Set([
      "value",
      ...(options.allowExpand ? ["expand"] : []),
      ...(options.allowDetails ? ["description", "options"] : []),
    ]);
    const unknown = Object.keys(raw).filter((k) => !allowed.has(k));
    if (unknown.length > 0) {
      diagnostics.error(at(), `${path}:${key} config contains unknown keys: ${unknown.join(", ")}`);
      continue;
    }
    const inner =
      raw["value"] === undefined || raw["value"] === null ? "" : scalarText(raw["value"]);
    if (inner === undefined) {
      diagnostics.error(at(), invalid);
      continue;
    }
    const variable: YamlVariable = { key, value: inner, expand: raw["expand"] !== false };
    if (raw["expand"] !== undefined && typeof raw["expand"] !== "boolean") {
      diagnostics.error(at(), `${path}:${key} expand should be a boolean value`);
    }
    if (typeof raw["description"] === "string") variable.description = raw["description"];
    if (raw["options"] !== undefined) {
      const list = Array.isArray(raw["options"]) ? raw["options"].map(scalarText) : undefined;
      if (!list || !isStringList(list))
        diagnostics.error(at(), `${path}:${key} options should be an array of strings`);
      else {
        variable.options = list;
        if (!list.includes(inner))
          diagnostics.error(at(), `${path}:${key} config value must be present in options`);
      }
    }
    result.push(variable);
  }
  return result;
}
