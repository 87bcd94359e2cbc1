import type { PipelineContext } from "../context/pipeline-context.ts";
import { RefNotFoundError } from "../context/pipeline-context.ts";
import { expressionHolds, type VariableLookup } from "../expression/index.ts";
import { expandValue } from "../variables/expand.ts";
import { globMatcher } from "./glob.ts";
import { RuleEvaluationError } from "./rule-error.ts";

export type RuleWhen = "on_success" | "on_failure" | "always" | "manual" | "delayed" | "never";

export interface Rule {
  if?: string;
  changes?: { paths: string[]; compareTo?: string };
  exists?: string[];
  when?: RuleWhen;
  startIn?: string;
  allowFailure?: boolean | { exitCodes: number[] };
  variables?: Record<string, string>;
  needs?: unknown[];
  interruptible?: boolean;
  /** Source position of the rule for error messages, opaque here. */
  position?: unknown;
}

export interface RuleMatch {
  rule: Rule;
  index: number;
}

export interface RulesInput {
  lookup: VariableLookup;
  context: PipelineContext;
}

/** GitLab assumes `rules:changes` matches past this many path × glob comparisons. */
export const MAX_CHANGES_COMPARISONS = 50_000;

/**
 * The first rule that matches, or undefined (then GitLab does not create the job, or the
 * pipeline for workflow:rules). All clauses of a rule must hold; a rule with none always
 * matches. The caller applies `when`, `allow_failure`, `variables` and `needs` of the match.
 * Throws RuleEvaluationError when a `compare_to` names no commit, as GitLab fails then.
 */
export function matchRules(rules: readonly Rule[], input: RulesInput): RuleMatch | undefined {
  for (let index = 0; index < rules.length; index++) {
    const rule = rules[index];
    if (rule && ruleMatches(rule, input)) return { rule, index };
  }
  return undefined;
}

export function ruleMatches(rule: Rule, input: RulesInput): boolean {
  if (rule.if !== undefined && !expressionHolds(rule.if, input.lookup)) return false;
  if (rule.changes !== undefined && !changesMatch(rule, rule.changes, input)) return false;
  if (rule.exists !== undefined && !existsMatch(rule.exists, input)) return false;
  return true;
}

/**
 * Variables in `changes` paths and `compare_to` are expanded, references to them included
 * (GitLab expands nested values there); unknown ones stay as written.
 */
function expandNested(text: string, lookup: VariableLookup): string {
  let current = text;
  for (let pass = 0; pass < 10 && (current.includes("$") || current.includes("%")); pass++) {
    const next = expandValue(current, lookup);
    if (next === current) break;
    current = next;
  }
  return current;
}

function changesMatch(
  rule: Rule,
  changes: NonNullable<Rule["changes"]>,
  input: RulesInput,
): boolean {
  const { context, lookup } = input;
  let paths: string[];
  if (changes.compareTo !== undefined) {
    const compareTo = expandNested(changes.compareTo, lookup);
    try {
      paths = context.changedFiles(compareTo);
    } catch (error) {
      if (error instanceof RefNotFoundError) {
        throw new RuleEvaluationError("rules:changes:compare_to is not a valid ref", rule.position);
      }
      throw error;
    }
  } else {
    if (context.changesAlwaysMatch) return true;
    paths = context.changedFiles();
  }
  if (paths.length === 0) return false;
  const globs = new Set(changes.paths.map((glob) => expandNested(glob, lookup)));
  if (globs.size === 0) return false;
  if (paths.length * globs.size > MAX_CHANGES_COMPARISONS) return true;
  const found = foundIn(paths);
  for (const glob of globs) {
    let matched = found.get(glob);
    if (matched === undefined) {
      const matches = globMatcher(glob);
      matched = paths.some((path) => matches(path));
      found.set(glob, matched);
    }
    if (matched) return true;
  }
  return false;
}

// The same diff is checked by many jobs, often with the same globs: remember each answer.
const foundByPaths = new WeakMap<readonly string[], Map<string, boolean>>();

function foundIn(paths: readonly string[]): Map<string, boolean> {
  let found = foundByPaths.get(paths);
  if (!found) {
    found = new Map();
    foundByPaths.set(paths, found);
  }
  return found;
}

function existsMatch(globs: string[], input: RulesInput): boolean {
  return input.context.fileExists(globs.map((glob) => expandValue(glob, input.lookup)));
}
