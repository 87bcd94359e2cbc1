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
  return entry instanceof ExpressionSyntaxError ? false : isPresent(evaluateValue(entry, lookup));
}
