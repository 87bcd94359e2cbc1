import { describe, expect, it } from "vitest";
import {
  evaluateTargets,
  subjectRatios,
  type VariantResult,
} from "../../../bench/lib/case-result.ts";
import { renderCaseResult } from "../../../bench/lib/render-case.ts";

function measured(id: string, wallMs: number[], peakRssKb?: number): VariantResult {
  const result: VariantResult = { id, label: id, status: "measured", wallMs, warmUp: true };
  if (peakRssKb !== undefined) result.peakRssKb = peakRssKb;
  return result;
}

const unavailable: VariantResult = {
  id: "pier",
  label: "pier list",
  status: "unavailable",
  reason: "pier: pier list is not available yet (planned in issue #3)\n",
  wallMs: [],
  warmUp: true,
};

describe("case results", () => {
  it("divides the subject's median by every other measured variant's median", () => {
    const ratios = subjectRatios([
      measured("pier", [100, 120, 110]),
      measured("baseline", [50, 55, 60]),
      measured("gitlab-ci-local", [2000, 2200, 2100]),
    ]);
    expect(ratios).toEqual([
      { numerator: "pier", denominator: "baseline", ratio: 2 },
      { numerator: "pier", denominator: "gitlab-ci-local", ratio: 110 / 2100 },
    ]);
  });

  it("gives no ratios when the subject is unavailable", () => {
    expect(subjectRatios([unavailable, measured("baseline", [50])])).toEqual([]);
  });

  it("checks ratio, difference and memory targets, and says n/a for missing variants", () => {
    const variants = [
      measured("pier", [300], 150_000),
      measured("pier-startup", [120]),
      measured("gitlab-ci-local", [2000]),
    ];
    const outcomes = evaluateTargets(
      [
        {
          kind: "ratio",
          label: "ratio",
          numerator: "pier",
          denominator: "gitlab-ci-local",
          atMost: 0.1,
        },
        {
          kind: "difference",
          label: "compile",
          minuend: "pier",
          subtrahend: "pier-startup",
          atMostMs: 150,
        },
        { kind: "memory", label: "memory", variant: "pier", atMostMb: 200 },
        { kind: "ratio", label: "missing", numerator: "pier", denominator: "baseline", atMost: 2 },
      ],
      variants,
    );
    expect(outcomes).toEqual([
      { label: "ratio", value: "0.15×", met: false },
      { label: "compile", value: "180 ms", met: false },
      { label: "memory", value: "154 MB", met: true },
      { label: "missing", value: "n/a", met: undefined },
    ]);
  });

  it("renders an unavailable variant as a line, not as a number", () => {
    const text = renderCaseResult({
      name: "list-3-jobs",
      description: "",
      rounds: 3,
      variants: [unavailable, measured("baseline", [50, 60, 55])],
      targets: [
        {
          kind: "ratio",
          label: "at most 2×",
          numerator: "pier",
          denominator: "baseline",
          atMost: 2,
        },
      ],
      notes: [],
      loadBefore: [0, 0, 0],
      loadAfter: [0, 0, 0],
    });
    expect(text).toContain("| pier     | `pier list` |    - | unavailable |");
    expect(text).toContain("- at most 2×: n/a (not measured)");
    expect(text).toContain(
      "- variant unavailable: pier: pier: pier list is not available yet (planned in issue #3)",
    );
    expect(text).not.toContain("Ratios");
  });
});
