import { describe, expect, it } from "vitest";
import { expressionHolds } from "../../../../src/pipeline/expression/index.ts";

const lookupOf =
  (values: Record<string, string>) =>
  (name: string): string | undefined =>
    Object.hasOwn(values, name) ? values[name] : undefined;

describe("expressionHolds, asked again with other values", () => {
  it("gives each set of values its own outcome", () => {
    const source = '$A == "x" && $B =~ /^feature\\//';
    expect(expressionHolds(source, lookupOf({ A: "x", B: "feature/one" }))).toBe(true);
    expect(expressionHolds(source, lookupOf({ A: "x", B: "main" }))).toBe(false);
    expect(expressionHolds(source, lookupOf({ A: "y", B: "feature/one" }))).toBe(false);
    expect(expressionHolds(source, lookupOf({ A: "x", B: "feature/two" }))).toBe(true);
    expect(expressionHolds(source, lookupOf({ B: "feature/one" }))).toBe(false);
  });

  it("tells apart values that would read the same once joined", () => {
    const source = "$A == $B";
    expect(expressionHolds(source, lookupOf({ A: "1:2", B: "1:2" }))).toBe(true);
    expect(expressionHolds(source, lookupOf({ A: "1", B: "2:1:2" }))).toBe(false);
    expect(expressionHolds(source, lookupOf({ A: "-", B: "-" }))).toBe(true);
    expect(expressionHolds(source, lookupOf({ A: "-" }))).toBe(false);
    expect(expressionHolds(source, lookupOf({}))).toBe(true);
  });

  it("still keeps every outcome right past the number it remembers", () => {
    for (let index = 0; index < 2500; index++) {
      const value = String(index);
      expect(expressionHolds('$N == "1234"', lookupOf({ N: value }))).toBe(value === "1234");
    }
  });
});
