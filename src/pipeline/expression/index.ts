/**
 * GitLab's CI/CD variable expression language (`rules:if`, `only/except:variables`,
 * `workflow:rules:if`), modelled on `lib/gitlab/ci/pipeline/expression/**`.
 */
import type { Expression, VariableLookup } from "./ast.ts";
import { evaluateValue, isPresent } from "./evaluate.ts";
import { parse } from "./parser.ts";
import { ExpressionSyntaxError } from "./syntax-error.ts";

export type {
  ComparisonOperator,
  Expression,
  LogicalOperator,
  PatternLiteral,
  VariableLookup,
} from "./ast.ts";
export { evaluateValue, isPresent, type ExpressionValue } from "./evaluate.ts";
export { ExpressionSyntaxError } from "./syntax-error.ts";

/** A problem in an expression, for validation messages. */
export interface ExpressionError {
  message: string;
  /** 1-based column within the expression. */
  column: number;
}

// Pipelines repeat the same few expressions across thousands of jobs: parse each source once.
const parsed = new Map<string, Expression | ExpressionSyntaxError>();

function parseCached(source: string): Expression | ExpressionSyntaxError {
  let entry = parsed.get(source);
  if (entry === undefined) {
    try {
      entry = parse(source);
    } catch (error) {
      if (!(error instanceof ExpressionSyntaxError)) throw error;
      entry = error;
    }
    parsed.set(source, entry);
  }
  return entry;
}

/** Parses (cached by source). Throws ExpressionSyntaxError with a 1-based column. */
export function parseExpression(source: string): Expression {
  const entry = parseCached(source);
  if (entry instanceof ExpressionSyntaxError) throw entry;
  return entry;
}

/** GitLab truthiness of the expression's value (`present?`): "", null, false are false. */
export function evaluateExpression(expr: Expression, lookup: VariableLookup): boolean {
  return isPresent(evaluateValue(expr, lookup));
}

/** Parse error of an expression, or undefined when it is valid. */
export function checkExpression(source: string): ExpressionError | undefined {
  const entry = parseCached(source);
  return entry instanceof ExpressionSyntaxError
    ? { message: entry.message, column: entry.column }
    : undefined;
}

/**
 * Whether an `if:` expression holds, as GitLab's `Statement#truthful?`: a malformed expression
 * is simply false (validation reports it separately).
 */
export function expressionHolds(source: string, lookup: VariableLookup): boolean {
  const entry = parseCached(source);
  if (entry instanceof ExpressionSyntaxError) return false;
  // The value depends only on the variables' values: jobs sharing `rules:` mostly see the same
  // ones, and the outcome is remembered for them.
  let memo = outcomes.get(entry);
  if (!memo) outcomes.set(entry, (memo = { names: variableNames(entry), results: new Map() }));
  let key = "";
  for (const name of memo.names) {
    const value = lookup(name);
    key += value === undefined ? "-" : `${value.length}:${value}`;
  }
  let holds = memo.results.get(key);
  if (holds === undefined) {
    holds = isPresent(evaluateValue(entry, lookup));
    if (memo.results.size >= maxOutcomes) memo.results.clear();
    memo.results.set(key, holds);
  }
  return holds;
}

/** Outcomes of an expression by the values of the variables it names. */
const outcomes = new WeakMap<Expression, { names: string[]; results: Map<string, boolean> }>();
const maxOutcomes = 1000;

function variableNames(expression: Expression, names: string[] = []): string[] {
  if (expression.kind === "variable") {
    if (!names.includes(expression.name)) names.push(expression.name);
  } else if (expression.kind === "binary") {
    variableNames(expression.left, names);
    variableNames(expression.right, names);
  }
  return names;
}
