import type { CompiledPattern } from "./simple-regex.ts";

/** Reads one variable: its stored value, or undefined when the variable is not defined. */
export type VariableLookup = (name: string) => string | undefined;

/** A `/source/flags` literal, compiled once when the expression is parsed. */
export interface PatternLiteral {
  /** As written, between the slashes, with `\/` already turned into `/`. */
  source: string;
  flags: string;
  regex: CompiledPattern;
}

export type ComparisonOperator = "==" | "!=" | "=~" | "!~";
export type LogicalOperator = "&&" | "||";

export type Expression =
  | { kind: "variable"; name: string }
  | { kind: "string"; value: string }
  | { kind: "null" }
  | { kind: "pattern"; pattern: PatternLiteral }
  | {
      kind: "binary";
      operator: ComparisonOperator | LogicalOperator;
      left: Expression;
      right: Expression;
    };
