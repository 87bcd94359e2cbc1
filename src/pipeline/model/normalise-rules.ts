import type { Diagnostics } from "../diagnostics.ts";
import { checkExpression } from "../expression/index.ts";
import { isPlainObject } from "../load/plain-object.ts";
import { positionOf } from "../load/source-map.ts";
import type { SourcePosition } from "../plan.ts";
import type { RuleWhen } from "../rules/rule.ts";
import { ruleKeys } from "./job-keys.ts";
import type { NeedSpec, RuleSpec } from "./pipeline-model.ts";
import { flattenList, isString, isStringList, scalarText } from "./value-checks.ts";

const ruleWhens = new Set(["on_success", "on_failure", "always", "manual", "delayed", "never"]);

/**
 * `rules:` of a job, of `workflow:` or of an `include:`. `normaliseNeeds` handles `rules:needs`
 * for jobs; null for workflow and include rules.
 */
export function normaliseRules(
  value: unknown,
  path: string,
  position: SourcePosition | undefined,
  diagnostics: Diagnostics,
  normaliseNeeds:
    ((value: unknown, position: SourcePosition | undefined) => NeedSpec[] | undefined) | null,
  allowedWhens: ReadonlySet<string> = ruleWhens,
): RuleSpec[] | undefined {
  if (!Array.isArray(value)) {
    diagnostics.error(position, `${path} config should be an array of hashes`);
    return undefined;
  }
  const rules: RuleSpec[] = [];
  for (const raw of flattenList(value)) {
    const at = positionOf(raw) ?? position;
    if (!isPlainObject(raw)) {
      diagnostics.error(at, `${path}:rule config should be a hash`);
      continue;
    }
    const unknown = Object.keys(raw).filter((key) => !ruleKeys.has(key));
    if (unknown.length > 0) {
      diagnostics.error(at, `${path}:rule config contains unknown keys: ${unknown.join(", ")}`);
      continue;
    }
    const rule: RuleSpec = {};
    if (at) rule.position = at;
    if (raw["if"] !== undefined && raw["if"] !== null) {
      if (!isString(raw["if"])) diagnostics.error(at, `${path}:rule if should be a string`);
      else {
        const problem = checkExpression(raw["if"]);
        if (problem)
          diagnostics.error(
            at,
            `${path}:rule if invalid expression syntax (${problem.message} at column ${problem.column})`,
          );
        else rule.if = raw["if"];
      }
    }
    const changes = raw["changes"];
    if (changes !== undefined && changes !== null) {
      if (isStringList(changes)) rule.changes = { paths: changes };
      else if (isPlainObject(changes) && isStringList(changes["paths"])) {
        rule.changes = { paths: changes["paths"] };
        if (isString(changes["compare_to"])) rule.changes.compareTo = changes["compare_to"];
      } else
        diagnostics.error(
          at,
          `${path}:rule:changes config should be an array of strings or a hash with paths`,
        );
    }
    const exists = raw["exists"];
    if (exists !== undefined && exists !== null) {
      if (isStringList(exists)) rule.exists = exists;
      else if (isString(exists)) rule.exists = [exists];
      else if (isPlainObject(exists) && isStringList(exists["paths"]))
        rule.exists = exists["paths"];
      else
        diagnostics.error(
          at,
          `${path}:rule:exists config should be an array of strings or a hash with paths`,
        );
    }
    const when = raw["when"];
    if (when !== undefined && when !== null) {
      if (!isString(when) || !allowedWhens.has(when)) {
        diagnostics.error(at, `${path}:rule when unknown value: ${JSON.stringify(when)}`);
      } else rule.when = when as RuleWhen;
    }
    if (raw["start_in"] !== undefined) {
      if (isString(raw["start_in"])) rule.startIn = raw["start_in"];
      else diagnostics.error(at, `${path}:rule start_in should be a duration`);
    }
    const allowFailure = raw["allow_failure"];
    if (allowFailure !== undefined && allowFailure !== null) {
      if (typeof allowFailure === "boolean") rule.allowFailure = allowFailure;
      else diagnostics.error(at, `${path}:rule allow_failure should be a boolean value`);
    }
    if (raw["interruptible"] !== undefined) {
      if (typeof raw["interruptible"] === "boolean") rule.interruptible = raw["interruptible"];
      else diagnostics.error(at, `${path}:rule interruptible should be a boolean value`);
    }
    const variables = raw["variables"];
    if (variables !== undefined && variables !== null) {
      if (!isPlainObject(variables))
        diagnostics.error(at, `${path}:rule:variables config should be a hash of key value pairs`);
      else {
        const map: Record<string, string> = {};
        for (const [key, item] of Object.entries(variables)) {
          const text = item === null ? "" : scalarText(item);
          if (text === undefined)
            diagnostics.error(
              at,
              `${path}:rule:variables config should be a hash of key value pairs`,
            );
          else map[key] = text;
        }
        rule.variables = map;
      }
    }
    if (raw["needs"] !== undefined && normaliseNeeds) {
      const needs = normaliseNeeds(raw["needs"], at);
      if (needs) {
        rule.needSpecs = needs;
        rule.needs = needs;
      }
    }
    rules.push(rule);
  }
  return rules;
}
