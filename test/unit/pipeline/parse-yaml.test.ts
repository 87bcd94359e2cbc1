import { describe, expect, it } from "vitest";
import { parseYaml, YamlProblem } from "../../../src/pipeline/load/parse-yaml.ts";
import { ReferenceTag } from "../../../src/pipeline/load/reference-tag.ts";
import { keyPositionOf } from "../../../src/pipeline/load/source-map.ts";

function body(text: string): Record<string, unknown> {
  return parseYaml(text, "ci.yml").body as Record<string, unknown>;
}

function problem(text: string): YamlProblem {
  try {
    parseYaml(text, "ci.yml");
  } catch (error) {
    if (error instanceof YamlProblem) return error;
    throw error;
  }
  throw new Error("expected a YamlProblem");
}

describe("parseYaml reads YAML as GitLab's Psych does", () => {
  it("reads YAML 1.1 booleans yes/no/on/off but keeps y and n as strings", () => {
    expect(body("a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: n\ng: 'yes'")).toEqual({
      a: true,
      b: false,
      c: true,
      d: false,
      e: "y",
      f: "n",
      g: "yes",
    });
  });

  it("reads YAML 1.1 numbers: octal, sexagesimal, underscores, 3.10 as 3.1", () => {
    expect(body("a: 0755\nb: 1:30\nc: 1_000\nd: 3.10\ne: 0x1F")).toEqual({
      a: 493,
      b: 90,
      c: 1000,
      d: 3.1,
      e: 31,
    });
  });

  it("refuses dates like Psych's safe_load", () => {
    expect(problem("a: 2024-01-01").message).toMatch(/Date/);
  });

  it("keeps the last of duplicate keys", () => {
    expect(body("a: 1\nb: 2\na: 3")).toEqual({ b: 2, a: 3 });
  });

  it("resolves anchors, aliases and << merge keys (explicit keys after the merge win)", () => {
    const parsed = body(".t: &t {image: ruby, tags: [a]}\njob:\n  <<: *t\n  image: alpine\n");
    expect(parsed["job"]).toEqual({ image: "alpine", tags: ["a"] });
  });

  it("merges a list of mappings with the first one winning", () => {
    const parsed = body("a: &a {x: 1}\nb: &b {x: 2, y: 2}\nc:\n  <<: [*a, *b]\n");
    expect(parsed["c"]).toEqual({ x: 1, y: 2 });
  });

  it("keeps !reference tags for later resolution", () => {
    const value = body("job:\n  script: !reference [.setup, script]\n")["job"] as Record<
      string,
      unknown
    >;
    expect(value["script"]).toBeInstanceOf(ReferenceTag);
    expect((value["script"] as ReferenceTag).path).toEqual([".setup", "script"]);
  });

  it("records key positions", () => {
    const parsed = body("a: 1\njob:\n  script: x\n");
    expect(keyPositionOf(parsed, "job")).toEqual({ file: "ci.yml", line: 2, column: 1 });
    expect(keyPositionOf(parsed["job"], "script")).toEqual({ file: "ci.yml", line: 3, column: 3 });
  });

  it("splits a spec header from the body", () => {
    const parsed = parseYaml("spec:\n  inputs:\n    a: {}\n---\njob: {script: x}\n", "ci.yml");
    expect(parsed.header).toEqual({ spec: { inputs: { a: {} } } });
    expect(parsed.body).toEqual({ job: { script: "x" } });
  });

  it("reports malformed YAML with a position", () => {
    const error = problem("job:\n  script: [a\n  b: c\n");
    expect(error.position.file).toBe("ci.yml");
    expect(error.position.line).toBeGreaterThan(0);
  });

  it("stops a billion-laughs alias bomb quickly", () => {
    let text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i <= 9; i++)
      text += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(",")}]\n`;
    const started = Date.now();
    expect(problem(text).message).toMatch(/too big/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("refuses binary files and huge files before parsing", () => {
    expect(problem("\0\x01\x02binary").message).toMatch(/binary/);
    const started = Date.now();
    expect(problem(`a: "${"x".repeat(50 * 1024 * 1024)}"`).message).toMatch(/too big/);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("refuses YAML nested deeper than 100 levels", () => {
    expect(problem(`${"[".repeat(150)}${"]".repeat(150)}`).message).toMatch(/deep/);
  });
});
