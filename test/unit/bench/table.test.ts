import { describe, expect, it } from "vitest";
import {
  formatDuration,
  formatMemory,
  formatRatio,
  renderTable,
} from "../../../bench/lib/table.ts";

describe("benchmark table formatting", () => {
  it("formats durations with a precision that suits their size", () => {
    expect(formatDuration(0.8412)).toBe("0.84 ms");
    expect(formatDuration(45.31)).toBe("45.3 ms");
    expect(formatDuration(312.4)).toBe("312 ms");
    expect(formatDuration(2412)).toBe("2.41 s");
    expect(formatDuration(112_000)).toBe("1 min 52 s");
  });

  it("formats GNU time kilobytes as decimal megabytes", () => {
    expect(formatMemory(195_313)).toBe("200 MB");
  });

  it("formats ratios as multipliers, small ones with two significant digits", () => {
    expect(formatRatio(1.4321)).toBe("1.43×");
    expect(formatRatio(0.05234)).toBe("0.052×");
  });

  it("pads columns and marks right-aligned ones in the rule line", () => {
    const table = renderTable(
      ["variant", "median"],
      [
        ["pier", "45.3 ms"],
        ["gitlab-ci-local", "2.41 s"],
      ],
      ["left", "right"],
    );
    expect(table.split("\n")).toEqual([
      "| variant         |  median |",
      "| --------------- | ------: |",
      "| pier            | 45.3 ms |",
      "| gitlab-ci-local |  2.41 s |",
    ]);
  });
});
