import { describe, expect, it } from "vitest";
import { median, summarize } from "../../../bench/lib/stats.ts";

describe("benchmark statistics", () => {
  it("takes the middle value of an odd count, whatever the order", () => {
    expect(median([30, 10, 20])).toBe(20);
  });

  it("takes the mean of the two middle values of an even count", () => {
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it("summarizes count, median, min and max without reordering the input", () => {
    const values = [12, 5, 40, 7, 9];
    expect(summarize(values)).toEqual({ count: 5, median: 9, min: 5, max: 40 });
    expect(values).toEqual([12, 5, 40, 7, 9]);
  });

  it("refuses to summarize nothing", () => {
    expect(() => summarize([])).toThrow(/no values/);
  });
});
