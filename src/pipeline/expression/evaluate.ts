import type { CompiledPattern } from "./simple-regex.ts";
import type { Expression, VariableLookup } from "./ast.ts";
import { regexFromString } from "./regex.ts";

/**
 * A value during evaluation, with Ruby's semantics in mind: strings, nil (null), the booleans
 * comparisons produce, and compiled patterns. `&&`/`||` pass operand values through.
 */
export type ExpressionValue = string | null | boolean | RegexValue;

export interface RegexValue {
  source: string;
  regex: CompiledPattern;
}

export function evaluateValue(expr: Expression, lookup: VariableLookup): ExpressionValue {
  switch (expr.kind) {
    case "variable":
      return lookup(expr.name) ?? null;
    case "string":
      return expr.value;
    case "null":
      return null;
    case "pattern":
      return expr.pattern;
    case "binary":
      break;
  }
  const left = evaluateValue(expr.left, lookup);
  switch (expr.operator) {
    // Ruby truthiness here: only nil and false are falsy, "" is truthy.
    case "&&":
      return left === null || left === false ? left : evaluateValue(expr.right, lookup);
    case "||":
      return left === null || left === false ? evaluateValue(expr.right, lookup) : left;
    case "==":
      return valuesEqual(left, evaluateValue(expr.right, lookup));
    case "!=":
      return !valuesEqual(left, evaluateValue(expr.right, lookup));
    case "=~": {
      const right = evaluateValue(expr.right, lookup);
      if (right === null || right === false) return false;
      return matches(left, right);
    }
    case "!~": {
      const right = evaluateValue(expr.right, lookup);
      if (right === null || right === false) return true;
      return !matches(left, right);
    }
  }
}

/** ActiveSupport's `present?`: nil, false and blank strings are not present. */
export function isPresent(value: ExpressionValue): boolean {
  if (value === null || value === false) return false;
  if (typeof value === "string") return !BLANK.test(value);
  return true;
}

const BLANK = /^\s*$/;

function valuesEqual(left: ExpressionValue, right: ExpressionValue): boolean {
  if (left === right) return true;
  if (typeof left === "object" && left !== null && typeof right === "object" && right !== null) {
    return left.source === right.source;
  }
  return false;
}

function asText(value: ExpressionValue): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "true" : "false";
  return value.source;
}

function matches(left: ExpressionValue, right: Exclude<ExpressionValue, null | false>): boolean {
  const text = asText(left);
  if (right === true) return false;
  if (typeof right === "object") return right.regex.test(text);
  // A string that reads as /pattern/flags is a regex (GitLab: Pattern.build_and_evaluate).
  // Otherwise Ruby's String#scan makes it a substring search of the LEFT side in the RIGHT one.
  const pattern = regexFromString(right);
  if (pattern) return pattern.regex.test(text);
  return right.includes(text);
}
