import { describe, expect, it } from "vitest";
import {
  checkExpression,
  ExpressionSyntaxError,
  parseExpression,
} from "../../../../src/pipeline/expression/index.ts";

describe("malformed expressions report a 1-based column", () => {
  const table: Array<[string, number, RegExp]> = [
    ["", 1, /empty/],
    ["   ", 1, /empty/],
    ["${VAR} == 'x'", 1, /\$\{VAR\}/],
    ["$INVALID = 1", 10, /unknown lexeme/],
    ['$A == "unterminated', 7, /unterminated string/],
    ["$A == 123", 7, /numbers/],
    ["$A ==", 6, /missing operand/],
    ["== $A", 1, /missing operand/],
    ["$A $B", 4, /expected an operator/],
    ["($A == 'x'", 1, /unmatched parenthesis/],
    ["$A == 'x')", 10, /unmatched parenthesis/],
    ["()", 2, /missing operand/],
    ["$A =~ /(/", 7, /pattern/],
    ["$A =~ /a(/", 7, /invalid regular expression/],
    ["$A =~ /(?=x)y/", 7, /invalid regular expression/],
    ["$A =~ //", 7, /pattern/],
    // GitLab's pattern lexeme needs at least two characters between the slashes.
    ["$A =~ /x/", 7, /at least two characters/],
    ["$A && && $B", 7, /missing operand/],
    ["$A == nil", 7, /unknown lexeme `nil`/],
    ["$A == true", 7, /unknown lexeme `true`/],
    ["!$A", 1, /unknown lexeme/],
  ];

  it.each(table)("%j at column %i", (source, column, message) => {
    const error = checkExpression(source);
    expect(error).toBeDefined();
    expect(error?.column).toBe(column);
    expect(error?.message).toMatch(message);
    expect(() => parseExpression(source)).toThrow(ExpressionSyntaxError);
  });

  it("valid expressions have no error", () => {
    for (const source of [
      "$A",
      "$A == 'x'",
      "$A =~ /xy/i && ($B || $C != null)",
      '\t$A\n== "x" ',
      "$CI_COMMIT_REF_NAME =~ /^release\\/.*$/",
    ]) {
      expect(checkExpression(source)).toBeUndefined();
    }
  });

  it("allows at most 99 tokens, as GitLab's lexer", () => {
    const terms = (count: number): string =>
      Array.from({ length: count }, (_, i) => `$V${i}`).join(" || ");
    expect(checkExpression(terms(50))).toBeUndefined(); // 99 tokens
    expect(checkExpression(`${terms(50)} ||`)?.message).toMatch(/too many tokens/);
  });

  it("keeps the column on the thrown error", () => {
    try {
      parseExpression("$A == 'x' &&");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ExpressionSyntaxError);
      expect((error as ExpressionSyntaxError).column).toBe(13);
    }
  });
});
