import { describe, expect, it } from "vitest";
import { parseDuration } from "../../../../src/pipeline/model/duration.ts";

// Both readers are covered: the char scanner (ASCII digits, letters, dots, spaces) and the
// regular-expression one it hands everything else to (`and`, commas, clock times, tabs).
const cases: Array<[string, number | undefined]> = [
  ["30m", 1800],
  ["1 week", 604_800],
  ["  90 minutes  ", 5400],
  ["1.5h", 5400],
  ["1h 30m", 5400],
  ["1h30m", 5400],
  ["5m6s", 306],
  ["3 mins 4 sec", 184],
  ["1 yrs 1 wk", 32_162_400],
  ["2 DAYS", 172_800],
  ["1 Mo", 2_592_000],
  ["3600", 3600],
  ["1.50", 1.5],
  [" 7 ", 7],
  ["1 hour and 5 mins", 3900],
  ["and 5m", 300],
  ["30m\t", 1800],
  ["1:30", 90],
  ["1:02:03", 3723],
  ["5 and", undefined],
  ["1, 2h", undefined],
  ["1 fortnight", undefined],
  ["5 hand", undefined],
  ["soon", undefined],
  ["", undefined],
  ["   ", undefined],
  ["5.m", undefined],
  ["1.5.5h", undefined],
  ["1 2h", undefined],
  ["m5", undefined],
  ["5 m h", undefined],
];

describe("parseDuration", () => {
  it.each(cases)("reads %j as %s", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it("takes non-negative finite numbers as seconds", () => {
    expect(parseDuration(90)).toBe(90);
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseDuration(true)).toBeUndefined();
  });
});
