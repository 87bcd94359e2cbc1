import { describe, expect, it } from "vitest";
import {
  evaluateExpression,
  evaluateValue,
  expressionHolds,
  parseExpression,
  type ExpressionValue,
} from "../../../../src/pipeline/expression/index.ts";

// The variables of GitLab's own statement_spec.rb.
const variables = new Map<string, string>([
  ["PRESENT_VARIABLE", "my variable"],
  ["PATH_VARIABLE", "a/path/variable/value"],
  ["FULL_PATH_VARIABLE", "/a/full/path/variable/value"],
  ["EMPTY_VARIABLE", ""],
]);
const lookup = (name: string): string | undefined => variables.get(name);

function valueOf(source: string): ExpressionValue {
  return evaluateValue(parseExpression(source), lookup);
}

describe("expression values (GitLab statement_spec table)", () => {
  const table: Array<[string, ExpressionValue]> = [
    ['$PRESENT_VARIABLE == "my variable"', true],
    ['"my variable" == $PRESENT_VARIABLE', true],
    ["$PRESENT_VARIABLE == null", false],
    ["$EMPTY_VARIABLE == null", false],
    ['"" == $EMPTY_VARIABLE', true],
    ["$EMPTY_VARIABLE", ""],
    ["$UNDEFINED_VARIABLE == null", true],
    ["null == $UNDEFINED_VARIABLE", true],
    ["$PRESENT_VARIABLE", "my variable"],
    ["$UNDEFINED_VARIABLE", null],
    ["$PRESENT_VARIABLE =~ /var.*e$/", true],
    ["$PRESENT_VARIABLE =~ /va\\r.*e$/", false],
    ["$PRESENT_VARIABLE =~ /va\\/r.*e$/", false],
    ["$PRESENT_VARIABLE =~ /^var.*/", false],
    ["$EMPTY_VARIABLE =~ /var.*/", false],
    ["$UNDEFINED_VARIABLE =~ /var.*/", false],
    ["$PRESENT_VARIABLE =~ /VAR.*/i", true],
    ["$PATH_VARIABLE =~ /path\\/variable/", true],
    ["$FULL_PATH_VARIABLE =~ /^\\/a\\/full\\/path\\/variable\\/value$/", true],
    ["$FULL_PATH_VARIABLE =~ /\\/path\\/variable\\/value$/", true],
    ['$PRESENT_VARIABLE != "my variable"', false],
    ['"my variable" != $PRESENT_VARIABLE', false],
    ["$PRESENT_VARIABLE != null", true],
    ["$EMPTY_VARIABLE != null", true],
    ['"" != $EMPTY_VARIABLE', false],
    ["$UNDEFINED_VARIABLE != null", false],
    ["null != $UNDEFINED_VARIABLE", false],
    ["$PRESENT_VARIABLE !~ /var.*e$/", false],
    ["$PRESENT_VARIABLE !~ /^var.*/", true],
    ["$PRESENT_VARIABLE !~ /^v\\ar.*/", true],
    ["$PRESENT_VARIABLE !~ /^v\\/ar.*/", true],
    ["$EMPTY_VARIABLE !~ /var.*/", true],
    ["$UNDEFINED_VARIABLE !~ /var.*/", true],
    ["$PRESENT_VARIABLE !~ /VAR.*/i", false],

    ['$PRESENT_VARIABLE && "string"', "string"],
    ["$PRESENT_VARIABLE && $PRESENT_VARIABLE", "my variable"],
    ["$PRESENT_VARIABLE && $EMPTY_VARIABLE", ""],
    ["$PRESENT_VARIABLE && null", null],
    ['"string" && $PRESENT_VARIABLE', "my variable"],
    ["$EMPTY_VARIABLE && $PRESENT_VARIABLE", "my variable"],
    ["null && $PRESENT_VARIABLE", null],
    ['$EMPTY_VARIABLE && "string"', "string"],
    ["$EMPTY_VARIABLE && $EMPTY_VARIABLE", ""],
    ['"string" && $EMPTY_VARIABLE', ""],
    ['"string" && null', null],
    ['null && "string"', null],
    ['"string" && "string"', "string"],
    ["null && null", null],

    ["$PRESENT_VARIABLE =~ /my var/ && $EMPTY_VARIABLE =~ /nope/", false],
    ['$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE', "my variable"],
    ['$EMPTY_VARIABLE == "" && $PRESENT_VARIABLE != "nope"', true],
    ["$PRESENT_VARIABLE && $UNDEFINED_VARIABLE", null],
    ["$UNDEFINED_VARIABLE && $EMPTY_VARIABLE", null],
    ["$UNDEFINED_VARIABLE && $PRESENT_VARIABLE", null],

    [
      "$FULL_PATH_VARIABLE =~ /^\\/a\\/full\\/path\\/variable\\/value$/ && $PATH_VARIABLE =~ /path\\/variable/",
      true,
    ],
    [
      "$FULL_PATH_VARIABLE =~ /^\\/a\\/bad\\/path\\/variable\\/value$/ && $PATH_VARIABLE =~ /path\\/variable/",
      false,
    ],
    [
      "$FULL_PATH_VARIABLE =~ /^\\/a\\/full\\/path\\/variable\\/value$/ || $PATH_VARIABLE =~ /bad\\/path\\/variable/",
      true,
    ],
    [
      "$FULL_PATH_VARIABLE =~ /^\\/a\\/bad\\/path\\/variable\\/value$/ || $PATH_VARIABLE =~ /bad\\/path\\/variable/",
      false,
    ],

    ["$PRESENT_VARIABLE =~ /my var/ || $EMPTY_VARIABLE =~ /nope/", true],
    ['$EMPTY_VARIABLE == "" || $PRESENT_VARIABLE', true],
    ['$PRESENT_VARIABLE != "nope" || $EMPTY_VARIABLE == ""', true],
    ['$PRESENT_VARIABLE && null || $EMPTY_VARIABLE == ""', true],
    ["$PRESENT_VARIABLE || $UNDEFINED_VARIABLE", "my variable"],
    ["$UNDEFINED_VARIABLE || $PRESENT_VARIABLE", "my variable"],
    ["$UNDEFINED_VARIABLE == null || $PRESENT_VARIABLE", true],
    ["$PRESENT_VARIABLE || $UNDEFINED_VARIABLE == null", "my variable"],

    ["($PRESENT_VARIABLE)", "my variable"],
    ["(($PRESENT_VARIABLE))", "my variable"],
    ['(($PRESENT_VARIABLE && null) || $EMPTY_VARIABLE == "")', true],
    ['($PRESENT_VARIABLE) && (null || $EMPTY_VARIABLE == "")', true],
    ['("string" || "test") == "string"', true],
    ['(null || ("test" == "string"))', false],
    ['("string" == ("test" && "string"))', true],
    ['("string" == ("test" || "string"))', false],
    ['("string" == "test" || "string")', "string"],
    ['("string" == ("string" || (("1" == "1") && ("2" == "3"))))', true],

    // Single-quoted strings, and the empty string.
    ["$PRESENT_VARIABLE == 'my variable'", true],
    ["$EMPTY_VARIABLE == ''", true],
    ["$UNDEFINED_VARIABLE == ''", false],
    // Variable to variable.
    ["$PRESENT_VARIABLE == $PRESENT_VARIABLE", true],
    ["$PRESENT_VARIABLE == $EMPTY_VARIABLE", false],
    ["$UNDEFINED_VARIABLE == $OTHER_UNDEFINED", true],
  ];

  it.each(table)("%s", (source, expected) => {
    expect(valueOf(source)).toEqual(expected);
  });
});

describe("truthiness of the result (Statement#truthful?)", () => {
  const table: Array<[string, boolean]> = [
    ['$PRESENT_VARIABLE == "my variable"', true],
    ["$PRESENT_VARIABLE == 'no match'", false],
    ["$UNDEFINED_VARIABLE == null", true],
    ["$PRESENT_VARIABLE", true],
    ["$UNDEFINED_VARIABLE", false],
    ["$EMPTY_VARIABLE", false],
    ["$INVALID = 1", false],
    ["$PRESENT_VARIABLE =~ /var.*/", true],
    ["$UNDEFINED_VARIABLE =~ /var.*/", false],
    ["$PRESENT_VARIABLE !~ /var.*/", false],
    ["$UNDEFINED_VARIABLE !~ /var.*/", true],
    // `present?`: "false" and "0" are true, blank strings are false.
    ['"false"', true],
    ['"0"', true],
    ['"   "', false],
  ];

  it.each(table)("%s is %s", (source, expected) => {
    expect(expressionHolds(source, lookup)).toBe(expected);
  });

  it("evaluateExpression agrees with expressionHolds", () => {
    expect(
      evaluateExpression(parseExpression("$EMPTY_VARIABLE || $PRESENT_VARIABLE"), lookup),
    ).toBe(false);
    expect(
      evaluateExpression(parseExpression("$UNDEFINED_VARIABLE || $PRESENT_VARIABLE"), lookup),
    ).toBe(true);
  });
});

describe("=~ with a string or a variable on the right", () => {
  const patterns = new Map<string, string>([
    ["teststring", "abcde"],
    ["pattern1", "/^ab.*/"],
    ["pattern2", "/^at.*/"],
    ["caseless", "/ABC/i"],
    ["broken", "/(/"],
    ["slashes", "/a\\/b/"],
    ["path", "x/a/b/y"],
  ]);
  const look = (name: string): string | undefined => patterns.get(name);
  const table: Array<[string, boolean]> = [
    ['$teststring =~ "abcde"', true],
    ["$teststring =~ $teststring", true],
    ["$teststring =~ $pattern1", true],
    ["$teststring =~ $pattern2", false],
    ["$teststring =~ $caseless", true],
    ["$teststring !~ $pattern1", false],
    ["$teststring !~ $pattern2", true],
    // A plain string on the right is a substring search of the left inside the right.
    ['"bcd" =~ "abcde"', true],
    ['$teststring =~ "bcd"', false],
    ['$teststring =~ "xxabcdexx"', true],
    // A quoted /pattern/ is a regex too.
    ['$teststring =~ "/^abc/"', true],
    // An invalid pattern held in a variable falls back to a string.
    ['"/(/" =~ $broken', true],
    ["$path =~ $slashes", true],
    // null on the right: =~ false, !~ true.
    ["$teststring =~ $undefined", false],
    ["$teststring !~ $undefined", true],
    ["$teststring =~ null", false],
  ];

  it.each(table)("%s is %s", (source, expected) => {
    expect(expressionHolds(source, look)).toBe(expected);
  });

  it("does not expand variables inside a pattern", () => {
    expect(expressionHolds("$teststring =~ /$pattern1/", look)).toBe(false);
  });
});

describe("regex flags and RE2 semantics", () => {
  const values = new Map<string, string>([["MULTI", "first\nsecond"]]);
  const look = (name: string): string | undefined => values.get(name);
  const table: Array<[string, boolean]> = [
    ["$MULTI =~ /^second/", false],
    ["$MULTI =~ /^second/m", true],
    ["$MULTI =~ /first.second/", false],
    ["$MULTI =~ /first.second/s", true],
    ["$MULTI =~ /FIRST/i", true],
    ["$MULTI =~ /FIRST/im", true],
  ];
  it.each(table)("%s is %s", (source, expected) => {
    expect(expressionHolds(source, look)).toBe(expected);
  });
});

describe("precedence", () => {
  const values = new Map<string, string>([
    ["A", "a"],
    ["B", "b"],
  ]);
  const look = (name: string): string | undefined => values.get(name);
  it.each<[string, boolean]>([
    // && binds tighter than ||: true || (false && false)
    ['$A == "a" || $B == "x" && $A == "x"', true],
    // (true || false) && false
    ['($A == "a" || $B == "x") && $A == "x"', false],
    ['$A == "x" && $B == "b" || $A == "a"', true],
  ])("%s is %s", (source, expected) => {
    expect(expressionHolds(source, look)).toBe(expected);
  });
});

describe("GitLab documentation examples", () => {
  const values = new Map<string, string>([
    ["CI_PIPELINE_SOURCE", "merge_request_event"],
    ["CI_COMMIT_BRANCH", "feature/login"],
    ["CI_DEFAULT_BRANCH", "main"],
    ["CI_COMMIT_MESSAGE", "Fix thing [skip e2e]"],
    ["CI_COMMIT_TAG", "v1.2.3"],
    ["CI_MERGE_REQUEST_LABELS", "backend,bug"],
    ["VARIABLE", "value"],
  ]);
  const look = (name: string): string | undefined => values.get(name);
  it.each<[string, boolean]>([
    ['$CI_PIPELINE_SOURCE == "merge_request_event"', true],
    ['$CI_PIPELINE_SOURCE == "schedule"', false],
    ["$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH", false],
    ["$CI_COMMIT_BRANCH != $CI_DEFAULT_BRANCH", true],
    ["$CI_COMMIT_BRANCH =~ /^feature/", true],
    ["$CI_COMMIT_TAG", true],
    ["$CI_COMMIT_TAG =~ /^v\\d+\\.\\d+\\.\\d+$/", true],
    ["$CI_COMMIT_MESSAGE =~ /\\[skip e2e\\]/", true],
    ["$CI_MERGE_REQUEST_LABELS =~ /(^|,)bug(,|$)/", true],
    ["$VARIABLE == null", false],
    ["$UNSET == null", true],
    ['$VARIABLE == ""', false],
    ['$CI_PIPELINE_SOURCE == "push" || $CI_PIPELINE_SOURCE == "merge_request_event"', true],
    ['$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE == "merge_request_event"', false],
    [
      '($CI_COMMIT_BRANCH == "main" || $CI_COMMIT_BRANCH =~ /^feature/) && $CI_PIPELINE_SOURCE == "merge_request_event"',
      true,
    ],
  ])("%s is %s", (source, expected) => {
    expect(expressionHolds(source, look)).toBe(expected);
  });
});
