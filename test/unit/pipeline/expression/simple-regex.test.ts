import { RE2JS } from "re2js";
import { describe, expect, it } from "vitest";
import { simpleRegex } from "../../../../src/pipeline/expression/simple-regex.ts";
import { seededRandom } from "../../../../bench/generate-pipeline.ts";

function re2(source: string): RE2JS | undefined {
  try {
    return RE2JS.compile(source);
  } catch {
    return undefined;
  }
}

const subjects = [
  "",
  "main",
  "feature/login",
  "release/1.2.3",
  "v1.2",
  "a\nb",
  "\n",
  "x-y_z",
  "ÄÖü ß",
  "😀",
  "a😀b",
  "tab\there",
  "CR\rLF\n",
  "$VAR",
  "[brackets]",
  "a.b*c+d?",
  "1234",
  "\u2028",
];

/** Where simpleRegex gives a RegExp, RE2 must accept the pattern and agree on every subject. */
function expectSameAsRe2(source: string): boolean {
  const simple = simpleRegex(source, "");
  if (!simple) return false;
  const reference = re2(source);
  expect(reference, `RE2 rejects ${source}`).toBeDefined();
  for (const subject of subjects) {
    expect(simple.test(subject), `${source} on ${JSON.stringify(subject)}`).toBe(
      reference?.test(subject),
    );
  }
  return true;
}

describe("simpleRegex: the built-in RegExp where it means what RE2 means", () => {
  it("translates the patterns pipelines use", () => {
    for (const source of [
      "^feature\\/",
      "^release\\/.*$",
      "^v\\d+\\.\\d+",
      "^(main|master)$",
      "^[a-z0-9_-]+$",
      "^[^/]+$",
      "foo|bar|",
      "a+?b??c",
      "\\bword\\b",
      "[\\w.-]+@[\\w-]+",
      "(x)y*",
      "ß.😀",
      "",
      "[a-]",
      "[-a]",
      "\\$VAR",
      "\\[brackets\\]",
    ]) {
      expect(expectSameAsRe2(source), source).toBe(true);
    }
  });

  it("leaves flags, counted repetition, groups with `(?` and other escapes to RE2", () => {
    for (const [source, flags] of [
      ["^a", "i"],
      ["a{2}", ""],
      ["(?i)a", ""],
      ["(?:a)", ""],
      ["\\s+", ""],
      ["\\n", ""],
      ["\\pL", ""],
      ["[[:alpha:]]", ""],
      ["[]a]", ""],
      ["a**", ""],
      ["^*", ""],
      ["(a", ""],
      ["a)", ""],
      ["[z-a]", ""],
      ["\\1", ""],
      ["a]", ""],
    ] as const) {
      expect(simpleRegex(source, flags), `${source} /${flags}`).toBeUndefined();
    }
  });

  it("leaves patterns that could make a backtracking engine blow up to RE2", () => {
    for (const source of [
      "()*x",
      "(a+)+$",
      "(a|a)*b",
      "a+?b??c*?d+e*",
      ".*.*.*.*x",
      "a?a?a?a?aaaa",
    ]) {
      expect(simpleRegex(source, ""), source).toBeUndefined();
    }
  });

  it("agrees with RE2 on random patterns", () => {
    const random = seededRandom(11);
    const pieces = [
      "a",
      "b",
      "/",
      "-",
      ".",
      "^",
      "$",
      "|",
      "(",
      ")",
      "*",
      "+",
      "?",
      "[",
      "]",
      "[^",
      "a-z",
      "\\d",
      "\\w",
      "\\b",
      "\\.",
      "\\/",
      "\\-",
      "😀",
      "ß",
      " ",
      "_",
      "0-9",
      "\\W",
      "\\D",
    ];
    let translated = 0;
    for (let round = 0; round < 3000; round++) {
      let source = "";
      const length = 1 + Math.floor(random() * 8);
      for (let index = 0; index < length; index++)
        source += pieces[Math.floor(random() * pieces.length)];
      if (expectSameAsRe2(source)) translated++;
    }
    expect(translated).toBeGreaterThan(300);
  });
});
