import { describe, expect, it } from "vitest";
import {
  matrixCombinations,
  matrixJobName,
} from "../../../../src/pipeline/planning/parallel-instances.ts";

describe("matrixCombinations", () => {
  it("varies the first key slowest, in key order", () => {
    const combinations = matrixCombinations({ OS: ["linux", "mac"], V: ["1", "2", "3"] });
    expect(combinations.map((values) => matrixJobName("t", values))).toEqual([
      "t: [linux, 1]",
      "t: [linux, 2]",
      "t: [linux, 3]",
      "t: [mac, 1]",
      "t: [mac, 2]",
      "t: [mac, 3]",
    ]);
    expect(Object.keys(combinations[0] ?? {})).toEqual(["OS", "V"]);
  });

  it("gives one empty combination for no keys and none when a key has no values", () => {
    expect(matrixCombinations({})).toEqual([{}]);
    expect(matrixCombinations({ A: ["x"], B: [] })).toEqual([]);
  });

  it("keeps a key named __proto__ as a plain key", () => {
    const [combination] = matrixCombinations(
      JSON.parse('{"__proto__": ["x"], "B": ["y"]}') as Record<string, string[]>,
    );
    expect(Object.getPrototypeOf(combination)).toBe(Object.prototype);
    expect(Object.entries(combination ?? {})).toEqual([
      ["__proto__", "x"],
      ["B", "y"],
    ]);
  });

  it("counts through three keys of different lengths like nested loops", () => {
    const row = { A: ["a1", "a2"], B: ["b1", "b2", "b3"], C: ["c1", "c2"] };
    const expected: string[] = [];
    for (const a of row.A)
      for (const b of row.B) for (const c of row.C) expected.push(`${a}${b}${c}`);
    expect(matrixCombinations(row).map((values) => Object.values(values).join(""))).toEqual(
      expected,
    );
  });
});
