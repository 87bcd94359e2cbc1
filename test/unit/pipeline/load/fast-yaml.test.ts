import { LineCounter } from "yaml";
import { describe, expect, it } from "vitest";
import { readPipelineYaml } from "../../../../src/pipeline/load/fast-yaml.ts";
import { parseYamlFully } from "../../../../src/pipeline/load/parse-yaml.ts";
import { ReferenceTag } from "../../../../src/pipeline/load/reference-tag.ts";
import { generatePipeline, seededRandom } from "../../../../bench/generate-pipeline.ts";
import { yamlDifferences } from "./yaml-equivalence.ts";

function fast(text: string): { body: unknown } | undefined {
  return readPipelineYaml(text, { name: ".gitlab-ci.yml", lines: new LineCounter() });
}

function full(text: string): { body: unknown } | Error {
  try {
    return parseYamlFully(text, ".gitlab-ci.yml");
  } catch (error) {
    return error as Error;
  }
}

/** What the fast reader accepts, it must read exactly as the `yaml` library path does. */
function expectSameAsLibrary(text: string): boolean {
  const quick = fast(text);
  const reference = full(text);
  if (quick === undefined) return false;
  expect(
    reference,
    `the library rejects what the fast reader accepted:\n${text}`,
  ).not.toBeInstanceOf(Error);
  if (reference instanceof Error) return true;
  expect(yamlDifferences(quick.body, reference.body), text).toEqual([]);
  return true;
}

// Read by the fast path: the shapes pipelines are made of.
const handled = [
  "",
  "# only a comment\n",
  "---\na: 1\n",
  "a: 1\nb: two\nc:\n",
  'a:\n  b:\n    c: [1, 2, 3]\n  d: {x: 1, y: "two", z}\n',
  "list:\n- a\n- b\nnext: 1\n",
  "list:\n  - a\n  -   b   # comment\n  -\n  - - x\n    - y\n",
  "- name: postgres\n  alias: db\n- redis\n",
  "a: yes\nb: no\nc: on\nd: off\ne: y\nf: n\ng: Y\nh: true\ni: False\n",
  "a: 010\nb: 0x1F\nc: 1_000\nd: 1:30\ne: 3.10\nf: .inf\ng: -.Inf\nh: .nan\ni: 1e3\nj: 0b101\nk: +12\nl: -0\n",
  "a: ~\nb: null\nc: Null\nd: NULL\ne: ''\nf: \"\"\n",
  "a: 'it''s'\nb: \"tab\\there \\\"q\\\" \\u00e9 \\x41 \\\\ \\/\"\nc: 'a: b'\n\"quoted key\": 1\n'single key': 2\n",
  "script:\n  - echo \"a: b\" # comment\n  - 'x #y'\n  - x#y\n  - a:b\n  - http://example.com/a?b=c#frag\n",
  "a: value with spaces   \nb: -dash\nc: --flag=1\nd: :colon\ne: a,b[c]{d}\n",
  "true: 1\n1: a\n2.50: b\nnull: c\n~: d\nyes: e\n",
  "dup: 1\nother: 2\ndup: 3\n",
  "__proto__: 1\nconstructor: 2\n",
  ".base: &base\n  image: alpine\n  tags: [docker]\njob:\n  <<: *base\n  script: x\n",
  ".a: &a {x: 1, y: 2}\n.b: &b\n  y: 3\n  z: 4\njob:\n  x: 0\n  <<: [*a, *b]\n  z: 5\n",
  "x: &v hello\ny: *v\nz: [*v, *v]\nw: {k: *v}\n",
  "list: &l\n  - a\n  - b\ncopy: *l\nnested:\n  - *l\n",
  "anchored: &m\n  k: v\nseq:\n  - &s x\n  - *s\n",
  "job:\n  script:\n    - !reference [.setup, script]\n  variables: !reference [.vars, variables]\n",
  'a: !reference [.x, "y", 1]\n',
  "a: |\n  line 1\n    indented\n\n  line 3\n",
  "a: |-\n  strip\n\n\nb: 1\n",
  "a: >\n  folded\n  text\n\n  para\n    more\n    indented\n  back\nb: >-\n  x\n  y\n",
  "a: |\n\n  leading blank\n  # not a comment\nb: 2\n",
  "- |\n  in a list\n- >\n  folded\n  in a list\n",
  "script:\n  - |\n    multi\n    line\n  - after\n",
  "k: |  # comment\n  text\n",
  "a: [ ]\nb: { }\nc: [a, [b, c], {d: e}]\nd: [a, b, ]\n",
  "a: ['x', \"y\", z]\nb: {'k': v, \"k2\": w}\n",
  "  indented: top\n  other: 1\n",
  "a:\n  # comment in between\n  b: 1\n\n  # another\n  c: 2\n",
  "variables:\n  A: $B\n  C: ${D}-x\n  E: '%F%'\n",
  'rules:\n  - if: $CI_COMMIT_BRANCH == "main" && $X =~ /^v\\d+/\n    when: manual\n  - when: never\n',
  "a: 2024-01-01x\nb: 12:30:00\nc: 1.2.3\n",
  "a: 'multi: colon' \n",
  "a: &x\n  - 1\nb: &x 2\nc: *x\n",
  "a: 123456789012345678901234567890\n",
  // Lines read again (the reader remembers lines it read): anchors redefined, aliases, duplicates.
  "x: &v 1\na:\n  k: *v\n  l: [*v]\nx2: &v 2\nb:\n  k: *v\n  l: [*v]\n",
  "a:\n  k: 1\n  k: 1\n  s:\n    - 1\n    - 1\nb:\n  k: 1\n  s:\n    - 1\n",
  "a:\n  l: [x, y]\n  m:\nb:\n  l: [x, y]\n  m:\n    l: [x, y]\n",
  "a: &a\n  k: v\n  l: [x]\nb: &b\n  k: v\n  l: [x]\nc: *a\nd:\n  <<: *b\n  k: v\n",
];

// Left to the library (several documents, multi-line scalars, tabs, other tags, errors).
const leftToLibrary = [
  "spec:\n  inputs: {}\n---\njob: {script: x}\n",
  "a: multi\n  line plain\n",
  'a: "multi\n  line"\n',
  "a: [1,\n  2]\n",
  "a:\tb\n",
  "a: !!str 1\n",
  "a: 2024-01-01\n",
  "a: 1\r\nb: 2\r\n",
  "? complex\n: key\n",
  "a: |+\n  keep\n\n",
  "a: |2\n    explicit\n",
  "a: b: c\n",
  "a: *missing\n",
  "a: &r\n  b: *r\n",
  "- a\nb: 1\n",
  "a: 1\n  b: 2\n",
  "a:\n  - x\n y: 1\n",
  "[unclosed\n",
  "a: 'unclosed\n",
  "%YAML 1.1\n---\na: 1\n",
  "a: 1\n...\n",
  "&a key: value\n",
  "a: @x\n",
  "a: `x\n",
  'a: "\\q"\n',
  "a: -\n",
];

describe("fast YAML reader", () => {
  it.each(handled)("reads %j as the yaml library does", (text) => {
    expect(expectSameAsLibrary(text)).toBe(true);
  });

  it.each(leftToLibrary)("leaves %j to the yaml library", (text) => {
    expect(fast(text)).toBeUndefined();
  });

  it("reads generated pipelines (extends, anchors, !reference, rules, matrices) as the library does", () => {
    for (const seed of [1, 2, 3]) {
      const { yaml: text } = generatePipeline({ jobs: 300, seed });
      expect(expectSameAsLibrary(text)).toBe(true);
    }
  });

  it("reads with top-level positions only the same values, a list of its own for each line", () => {
    const text = `${generatePipeline({ jobs: 60, seed: 4 }).yaml}a:\n  l: [x, y]\nb:\n  l: [x, y]\n`;
    const referenceFree = new Set<object>();
    const lines = new LineCounter();
    const topKeys = readPipelineYaml(text, { name: "f.yml", lines }, "top-keys", referenceFree);
    // Same values; `!reference` tags have no positions there.
    const withoutPositions = (value: unknown): string =>
      JSON.stringify(value, (key, item: unknown) => (key === "position" ? undefined : item));
    expect(withoutPositions(topKeys?.body)).toBe(withoutPositions(fast(text)?.body));
    const body = topKeys?.body as Record<string, { l: string[] }>;
    expect(body["a"]?.l).not.toBe(body["b"]?.l);
    expect(referenceFree.has(body["a"]?.l as object)).toBe(true);
    expect(referenceFree.has(body["b"]?.l as object)).toBe(true);
  });

  it("leaves values nested too deeply to the library, also when their line was read before", () => {
    const nested = (levels: number, last: string): string =>
      Array.from({ length: levels }, (_, level) => `${"  ".repeat(level)}a:\n`).join("") +
      `${"  ".repeat(levels)}${last}\n`;
    for (const last of ["k: v", "- v"]) {
      expect(fast(nested(10, last))).toBeDefined();
      expect(fast(nested(70, last))).toBeUndefined();
      // Around the reader's depth limit, a line read before is refused where it is refused.
      for (let levels = 55; levels <= 65; levels++) {
        const alone = fast(nested(levels, last)) === undefined;
        expect(fast(`b:\n  ${last}\n${nested(levels, last)}`) === undefined).toBe(alone);
      }
    }
  });

  it("collects as free of !reference only collections that hold none, and most of those", () => {
    const holdsReference = (value: unknown): boolean =>
      value instanceof ReferenceTag ||
      (typeof value === "object" && value !== null && Object.values(value).some(holdsReference));
    const texts = [
      generatePipeline({ jobs: 50, seed: 5 }).yaml,
      ".a: &a\n  s:\n    - !reference [.x, y]\n.b: &b {k: [v]}\njob:\n  <<: [*a, *b]\n  t: *a\n  u: *b\n",
    ];
    for (const text of texts) {
      const referenceFree = new Set<object>();
      const lines = new LineCounter();
      const read = readPipelineYaml(text, { name: "f.yml", lines }, "all", referenceFree);
      expect(read).toBeDefined();
      let withoutReferences = 0;
      const check = (value: unknown): void => {
        if (typeof value !== "object" || value === null || value instanceof ReferenceTag) return;
        if (referenceFree.has(value))
          expect(holdsReference(value), JSON.stringify(value)).toBe(false);
        if (!holdsReference(value)) withoutReferences++;
        for (const item of Object.values(value)) check(item);
      };
      check(read?.body);
      expect(referenceFree.size).toBeGreaterThan(withoutReferences * 0.8);
    }
  });

  it("agrees with the library on cut and mutated pipelines", () => {
    const { yaml: text } = generatePipeline({ jobs: 4, seed: 7 });
    const lines = text.split("\n");
    for (let count = 0; count <= lines.length; count += 3) {
      expectSameAsLibrary(lines.slice(0, count).join("\n"));
    }
    const random = seededRandom(11);
    const pieces = [
      " ",
      "  ",
      "-",
      ": ",
      "#",
      "'",
      '"',
      "[",
      "]",
      "{",
      "}",
      ",",
      "&a",
      "*a",
      "|",
      ">",
      "\n",
      "\n  ",
      "!reference ",
      "<<: ",
    ];
    let accepted = 0;
    for (let round = 0; round < 400; round++) {
      let mutated = text;
      for (let change = 0; change < 2; change++) {
        const at = Math.floor(random() * mutated.length);
        const piece = pieces[Math.floor(random() * pieces.length)] ?? " ";
        mutated =
          random() < 0.5
            ? mutated.slice(0, at) + piece + mutated.slice(at)
            : mutated.slice(0, at) + mutated.slice(at + 1 + Math.floor(random() * 3));
      }
      if (expectSameAsLibrary(mutated)) accepted++;
    }
    expect(accepted).toBeGreaterThan(50);
  }, 60_000);
});
