import { describe, expect, it } from "vitest";
import {
  deepMerge,
  deepMergeAll,
  deepMergeLarge,
} from "../../../../src/pipeline/load/deep-merge.ts";
import { emptyLargeMapping } from "../../../../src/pipeline/load/plain-object.ts";
import { readPipelineYaml } from "../../../../src/pipeline/load/fast-yaml.ts";
import { LineIndex } from "../../../../src/pipeline/load/line-index.ts";
import { keyPositionOf, positionOf } from "../../../../src/pipeline/load/source-map.ts";

type Mapping = Record<string, unknown>;

const fold = (sources: Mapping[]): Mapping =>
  sources.slice(1).reduce((merged, source) => deepMerge(merged, source), sources[0] ?? {});

describe("deepMergeAll", () => {
  const cases: Mapping[][] = [
    [{ a: 1 }, { b: 2 }, { a: 3 }],
    [{ v: { A: "1", B: "2" } }, { v: { B: "3" } }, { v: { C: "4" }, w: [1] }],
    [{ v: { A: "1" } }, { v: "scalar" }, { v: { B: "2" } }],
    [{ v: { A: "1" } }, { v: { B: "2" } }, { v: null }],
    [{ v: { A: { x: 1, y: 2 } } }, { v: { A: { y: 3 } } }, { v: { A: { z: 4 } } }],
    [{ list: [1, 2] }, { list: [3] }, { other: true }],
    [{}, { only: { here: 1 } }, {}],
    [
      { first: 1, second: 2 },
      { third: 3, first: 4 },
    ],
  ];

  it("gives what merging left to right one step at a time gives, keys in the same order", () => {
    for (const sources of cases) {
      const merged = deepMergeAll(sources);
      const expected = fold(sources);
      expect(merged).toEqual(expected);
      expect(JSON.stringify(merged)).toBe(JSON.stringify(expected));
    }
  });

  it("shares a mapping only one source has and changes no input", () => {
    const shared = { A: "1" };
    const sources: Mapping[] = [{ v: { B: "2" } }, { w: shared }, { v: { C: "3" } }];
    const before = JSON.stringify(sources);
    const merged = deepMergeAll(sources);
    expect(merged["w"]).toBe(shared);
    expect(merged["v"]).toEqual({ B: "2", C: "3" });
    expect(JSON.stringify(sources)).toBe(before);
  });

  it("keeps a `__proto__` key as data", () => {
    const merged = deepMergeAll([JSON.parse('{"__proto__": {"a": 1}}'), { b: 2 }]);
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(["__proto__", "b"]);
  });

  it("finds keys' positions where merging step by step finds them", () => {
    const read = (text: string): Mapping =>
      readPipelineYaml(text, { name: "f.yml", lines: new LineIndex() })?.body as Mapping;
    const sources = [
      read("a: 1\nv:\n  A: x\n"),
      read("b: 2\nv:\n  B: y\n"),
      read("\n\nv:\n  A: z\nc: 3\n"),
    ];
    const merged = deepMergeAll(sources);
    const expected = fold(sources);
    expect(positionOf(merged)).toEqual(positionOf(expected));
    for (const key of ["a", "b", "c", "v"])
      expect(keyPositionOf(merged, key)).toEqual(keyPositionOf(expected, key));
    for (const key of ["A", "B"])
      expect(keyPositionOf(merged["v"], key)).toEqual(keyPositionOf(expected["v"], key));
  });
});

describe("mappings with many keys", () => {
  const many = (prefix: string, count: number): Mapping =>
    Object.fromEntries(
      Array.from({ length: count }, (_, index) => [`${prefix}${index}`, { index }]),
    );

  it("start empty, as plain objects, and keep their keys in insertion order", () => {
    const mapping = emptyLargeMapping();
    expect(Object.keys(mapping)).toEqual([]);
    expect(Object.getPrototypeOf(mapping)).toBe(Object.prototype);
    mapping["b"] = 1;
    mapping["a"] = 2;
    expect(JSON.stringify(mapping)).toBe('{"b":1,"a":2}');
  });

  it("are merged as deepMerge does", () => {
    const base = { ...many("job-", 900), shared: { A: "1" } };
    const override = { ...many("other-", 50), shared: { B: "2" }, "job-3": null };
    expect(JSON.stringify(deepMergeLarge(base, override))).toBe(
      JSON.stringify(deepMerge(base, override)),
    );
  });
});
