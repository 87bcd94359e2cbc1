/**
 * GitLab's CI/CD variable expression language (`rules:if`, `only/except:variables`,
 * `workflow:rules:if`), modelled on `lib/gitlab/ci/pipeline/expression/**`.
 */

/** Reads one variable: its stored value, or undefined when the variable is not defined. */
export type VariableLookup = (name: string) => string | undefined;

/** A problem in an expression, for validation messages. */
export interface ExpressionError {
  message: string;
  /** 1-based column within the expression. */
  column: number;
}

export class ExpressionSyntaxError extends Error {
  /** 1-based column within the expression. */
  readonly column: number;

  constructor(message: string, column: number) {
    super(message);
    this.name = "ExpressionSyntaxError";
    this.column = column;
  }
}

/** A regular expression as written in the expression: `/source/flags`. */
export interface PatternLiteral {
  source: string;
  flags: string;
}

export type Expression =
  | { kind: "variable"; name: string }
  | { kind: "string"; value: string }
  | { kind: "null" }
  | { kind: "boolean"; value: boolean }
  | { kind: "pattern"; pattern: PatternLiteral }
  | {
      kind: "binary";
      operator: "==" | "!=" | "=~" | "!~" | "&&" | "||";
      left: Expression;
      right: Expression;
    };

export function parseExpression(source: string): Expression {
  void source;
  throw new Error("not implemented");
}

/** GitLab truthiness of the expression's value (`present?`). */
export function evaluateExpression(expr: Expression, lookup: VariableLookup): boolean {
  void expr;
  void lookup;
  throw new Error("not implemented");
}

export function checkExpression(source: string): ExpressionError | undefined {
  void source;
  throw new Error("not implemented");
}
