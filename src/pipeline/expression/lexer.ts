import { ExpressionSyntaxError } from "./syntax-error.ts";

export type TokenKind =
  "(" | ")" | "variable" | "string" | "pattern" | "null" | "==" | "=~" | "!=" | "!~" | "&&" | "||";

export interface Token {
  kind: TokenKind;
  /** Variable name, string contents, or the whole `/pattern/flags` text. */
  text: string;
  /** 1-based column of the token's first character. */
  column: number;
}

/** GitLab's lexer gives up at this many tokens ("Too many tokens!"). */
export const MAX_TOKENS = 100;

// Same lexemes, in the same order, as GitLab's Expression::Lexer. Ruby's `\s`, `\w` and `.`
// are ASCII-only and `.` stops at a newline, which the JS forms below reproduce.
const WHITESPACE = /[ \t\r\n\f\v]+/y;
const VARIABLE = /\$([A-Za-z0-9_]+)/y;
const STRING = /"([^\n]*?)"|'([^\n]*?)'/y;
const PATTERN = /\/(?:[^/]|\\\/)+[^\\]\/[ismU]*/y;
const NULL = /null/y;
const OPERATORS: ReadonlyArray<TokenKind> = ["==", "=~", "!=", "!~", "&&", "||"];

function stickyMatch(regex: RegExp, source: string, at: number): RegExpExecArray | null {
  regex.lastIndex = at;
  return regex.exec(source);
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  for (;;) {
    const space = stickyMatch(WHITESPACE, source, at);
    if (space) at += space[0].length;
    if (at >= source.length) return tokens;
    const token = readToken(source, at);
    tokens.push(token.token);
    at += token.length;
    // GitLab stops after MAX_TOKENS lexemes even when the input ends right there.
    if (tokens.length === MAX_TOKENS) {
      throw new ExpressionSyntaxError(`too many tokens (at most ${MAX_TOKENS - 1})`, at + 1);
    }
  }
}

function readToken(source: string, at: number): { token: Token; length: number } {
  const column = at + 1;
  const char = source[at];
  if (char === "(" || char === ")") return { token: { kind: char, text: char, column }, length: 1 };

  const variable = stickyMatch(VARIABLE, source, at);
  if (variable) {
    return {
      token: { kind: "variable", text: variable[1] ?? "", column },
      length: variable[0].length,
    };
  }
  const string = stickyMatch(STRING, source, at);
  if (string) {
    const text = string[1] ?? string[2] ?? "";
    return { token: { kind: "string", text, column }, length: string[0].length };
  }
  const pattern = stickyMatch(PATTERN, source, at);
  if (pattern) {
    return { token: { kind: "pattern", text: pattern[0], column }, length: pattern[0].length };
  }
  if (stickyMatch(NULL, source, at))
    return { token: { kind: "null", text: "null", column }, length: 4 };
  const two = source.slice(at, at + 2);
  for (const operator of OPERATORS) {
    if (two === operator) return { token: { kind: operator, text: operator, column }, length: 2 };
  }
  throw new ExpressionSyntaxError(unknownLexemeMessage(source, at), column);
}

function unknownLexemeMessage(source: string, at: number): string {
  const rest = source.slice(at);
  if (rest.startsWith("${"))
    return "unknown lexeme: `${VAR}` is not allowed in expressions, write `$VAR`";
  if (rest.startsWith('"') || rest.startsWith("'")) return "unterminated string";
  if (rest.startsWith("/")) return "invalid pattern: write /regex/ with at least two characters";
  if (/^\d/.test(rest)) return "unknown lexeme: numbers must be quoted strings";
  const word = /^[^\s()]+/.exec(rest)?.[0] ?? rest.slice(0, 1);
  return `unknown lexeme \`${word}\``;
}
