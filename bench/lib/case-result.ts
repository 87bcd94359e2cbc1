import type { Target, Variant } from "./bench-case.ts";
import { summarize, type Summary } from "./stats.ts";
import { formatDuration, formatRatio, kilobytesToMegabytes } from "./table.ts";

export type VariantStatus = "measured" | "unavailable" | "failed" | "not-run";

export interface VariantResult {
  id: string;
  label: string;
  status: VariantStatus;
  /** Why the variant is unavailable or failed. */
  reason?: string;
  wallMs: number[];
  warmUp: boolean;
  peakRssKb?: number;
}

export interface CaseResult {
  name: string;
  description: string;
  rounds: number;
  variants: VariantResult[];
  targets: Target[];
  notes: string[];
  /** Set when the case failed (a variant failed, or setup broke). */
  failure?: string;
  memoryMethod?: string;
  loadBefore: number[];
  loadAfter: number[];
}

export function newVariantResult(variant: Variant): VariantResult {
  const result: VariantResult = {
    id: variant.id,
    label: variant.label,
    status: variant.unavailable === undefined ? "not-run" : "unavailable",
    wallMs: [],
    warmUp: variant.maxRuns === undefined,
  };
  if (variant.unavailable !== undefined) result.reason = variant.unavailable;
  return result;
}

export function wallSummary(result: VariantResult): Summary | undefined {
  return result.status === "measured" && result.wallMs.length > 0
    ? summarize(result.wallMs)
    : undefined;
}

export interface RatioLine {
  numerator: string;
  denominator: string;
  ratio: number;
}

/** The subject (first variant) over every other measured variant, by medians of the same run. */
export function subjectRatios(variants: readonly VariantResult[]): RatioLine[] {
  const [subject, ...others] = variants;
  const subjectMedian = subject === undefined ? undefined : wallSummary(subject)?.median;
  if (subject === undefined || subjectMedian === undefined) return [];
  return others.flatMap((other) => {
    const otherMedian = wallSummary(other)?.median;
    return otherMedian === undefined
      ? []
      : [{ numerator: subject.id, denominator: other.id, ratio: subjectMedian / otherMedian }];
  });
}

export interface TargetOutcome {
  label: string;
  /** The measured value, formatted; "n/a" when a variant it needs was not measured. */
  value: string;
  met: boolean | undefined;
}

export function evaluateTargets(
  targets: readonly Target[],
  variants: readonly VariantResult[],
): TargetOutcome[] {
  const byId = new Map(variants.map((variant) => [variant.id, variant]));
  const medianOf = (id: string): number | undefined => {
    const variant = byId.get(id);
    return variant === undefined ? undefined : wallSummary(variant)?.median;
  };
  return targets.map((target): TargetOutcome => {
    switch (target.kind) {
      case "ratio": {
        const numerator = medianOf(target.numerator);
        const denominator = medianOf(target.denominator);
        if (numerator === undefined || denominator === undefined) return notAvailable(target.label);
        const ratio = numerator / denominator;
        return { label: target.label, value: formatRatio(ratio), met: ratio <= target.atMost };
      }
      case "difference": {
        const minuend = medianOf(target.minuend);
        const subtrahend = medianOf(target.subtrahend);
        if (minuend === undefined || subtrahend === undefined) return notAvailable(target.label);
        const difference = minuend - subtrahend;
        return {
          label: target.label,
          value: formatDuration(Math.max(0, difference)),
          met: difference <= target.atMostMs,
        };
      }
      case "time": {
        const median = medianOf(target.variant);
        if (median === undefined) return notAvailable(target.label);
        return {
          label: target.label,
          value: formatDuration(median),
          met: median <= target.atMostMs,
        };
      }
      case "memory": {
        const variant = byId.get(target.variant);
        const peak = variant?.status === "measured" ? variant.peakRssKb : undefined;
        if (peak === undefined) return notAvailable(target.label);
        const megabytes = kilobytesToMegabytes(peak);
        return {
          label: target.label,
          value: `${megabytes.toFixed(0)} MB`,
          met: megabytes <= target.atMostMb,
        };
      }
    }
  });
}

function notAvailable(label: string): TargetOutcome {
  return { label, value: "n/a", met: undefined };
}
