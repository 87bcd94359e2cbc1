import type { ComparisonOperator, Expression, LogicalOperator } from "./ast.ts";
import { tokenize, type Token } from "./lexer.ts";
import { regexFromString } from "./regex.ts";
import { ExpressionSyntaxError } from "./syntax-error.ts";

/**
 * Parses an expression. Precedence as in GitLab (all left-associative): comparisons
 * (`== != =~ !~`) bind tighter than `&&`, which binds tighter than `||`.
 */
export function parse(source: string): Expression {
  const tokens = tokenize(source);
  if (tokens.length === 0) throw new ExpressionSyntaxError("empty expression", 1);
  const parser = new Parser(tokens, source.length + 1);
  const expression = parser.parseOr();
  const extra = parser.peek();
  if (extra) {
    if (extra.kind === ")")
      throw new ExpressionSyntaxError("unmatched parenthesis `)`", extra.column);
    throw new ExpressionSyntaxError(
      `unexpected ${describe(extra)}: expected an operator (==, !=, =~, !~, &&, ||)`,
      extra.column,
    );
  }
  return expression;
}

type BinaryOperator = ComparisonOperator | LogicalOperator;
/** Binary operators from the loosest binding to the tightest. */
const PRECEDENCE: ReadonlyArray<ReadonlySet<string>> = [
  new Set<BinaryOperator>(["||"]),
  new Set<BinaryOperator>(["&&"]),
  new Set<BinaryOperator>(["==", "!=", "=~", "!~"]),
];

class Parser {
  private index = 0;
  private readonly tokens: Token[];
  private readonly endColumn: number;

  constructor(tokens: Token[], endColumn: number) {
    this.tokens = tokens;
    this.endColumn = endColumn;
  }

  peek(): Token | undefined {
    return this.tokens[this.index];
  }

  parseOr(): Expression {
    return this.parseLevel(0);
  }

  /** Operands joined by the operators of `PRECEDENCE[level]`, left-associative. */
  private parseLevel(level: number): Expression {
    const operators = PRECEDENCE[level];
    if (!operators) return this.parseOperand();
    let left = this.parseLevel(level + 1);
    for (let token = this.peek(); token && operators.has(token.kind); token = this.peek()) {
      this.index++;
      left = binary(token.kind as BinaryOperator, left, this.parseLevel(level + 1));
    }
    return left;
  }

  private parseOperand(): Expression {
    const token = this.peek();
    if (!token)
      throw new ExpressionSyntaxError(
        "unexpected end of expression: missing operand",
        this.endColumn,
      );
    this.index++;
    switch (token.kind) {
      case "variable":
        return { kind: "variable", name: token.text };
      case "string":
        return { kind: "string", value: token.text };
      case "null":
        return { kind: "null" };
      case "pattern": {
        const pattern = regexFromString(token.text);
        if (!pattern)
          throw new ExpressionSyntaxError(`invalid regular expression ${token.text}`, token.column);
        return { kind: "pattern", pattern };
      }
      case "(": {
        const inner = this.parseOr();
        const close = this.peek();
        if (close?.kind !== ")") {
          throw new ExpressionSyntaxError(
            close ? `unexpected ${describe(close)}: expected \`)\`` : "unmatched parenthesis `(`",
            close ? close.column : token.column,
          );
        }
        this.index++;
        return inner;
      }
      case ")":
      case "==":
      case "!=":
      case "=~":
      case "!~":
      case "&&":
      case "||":
        throw new ExpressionSyntaxError(
          `unexpected ${describe(token)}: missing operand`,
          token.column,
        );
    }
  }
}

function binary(operator: BinaryOperator, left: Expression, right: Expression): Expression {
  return { kind: "binary", operator, left, right };
}

function describe(token: Token): string {
  switch (token.kind) {
    case "variable":
      return `variable $${token.text}`;
    case "string":
      return `string "${token.text}"`;
    case "pattern":
      return `pattern ${token.text}`;
    case "null":
      return "null";
    case "(":
    case ")":
    case "==":
    case "!=":
    case "=~":
    case "!~":
    case "&&":
    case "||":
      return `\`${token.kind}\``;
  }
}
