import {
  evaluateTargets,
  subjectRatios,
  wallSummary,
  type CaseResult,
  type VariantResult,
} from "./case-result.ts";
import { formatDuration, formatMemory, formatRatio, renderTable } from "./table.ts";

/** The case's results as Markdown: table, ratios, targets, notes. Used on screen and in BENCHMARKS.md. */
export function renderCaseResult(result: CaseResult): string {
  const parts = [renderVariantTable(result.variants)];
  const ratios = subjectRatios(result.variants);
  if (ratios.length > 0) {
    parts.push(
      [
        "Ratios of medians from this run:",
        "",
        ...ratios.map(
          ({ numerator, denominator, ratio }) =>
            `- ${numerator} / ${denominator}: ${formatRatio(ratio)}` +
            (ratio < 1 ? ` (${numerator} is ${formatRatio(1 / ratio)} faster)` : ""),
        ),
      ].join("\n"),
    );
  }
  const targets = evaluateTargets(result.targets, result.variants);
  if (targets.length > 0) {
    parts.push(
      [
        "Targets:",
        "",
        ...targets.map(({ label, value, met }) => {
          const verdict = met === undefined ? "not measured" : met ? "met" : "MISSED";
          return `- ${label}: ${value} (${verdict})`;
        }),
      ].join("\n"),
    );
  }
  const notes = [
    ...result.variants.flatMap(unmeasuredNote),
    ...result.notes,
    ...(result.failure === undefined ? [] : [`CASE FAILED: ${result.failure}`]),
  ];
  if (notes.length > 0) parts.push(["Notes:", "", ...notes.map((note) => `- ${note}`)].join("\n"));
  return parts.join("\n\n");
}

function renderVariantTable(variants: readonly VariantResult[]): string {
  const rows = variants.map((variant) => {
    const summary = wallSummary(variant);
    const runs =
      summary === undefined ? "-" : `${summary.count}${variant.warmUp ? "" : " (no warm-up)"}`;
    return [
      variant.id,
      `\`${variant.label}\``,
      runs,
      summary === undefined ? statusWord(variant) : formatDuration(summary.median),
      summary === undefined ? "-" : formatDuration(summary.min),
      summary === undefined ? "-" : formatDuration(summary.max),
      variant.peakRssKb === undefined ? "-" : formatMemory(variant.peakRssKb),
    ];
  });
  return renderTable(["variant", "command", "runs", "median", "min", "max", "peak RSS"], rows, [
    "left",
    "left",
    "right",
    "right",
    "right",
    "right",
    "right",
  ]);
}

function statusWord(variant: VariantResult): string {
  switch (variant.status) {
    case "unavailable":
      return "unavailable";
    case "failed":
      return "FAILED";
    case "not-run":
      return "not run";
    case "measured":
      return "-";
  }
}

function unmeasuredNote(variant: VariantResult): string[] {
  if (variant.status === "unavailable") {
    return [`variant unavailable: ${variant.id}: ${firstLine(variant.reason)}`];
  }
  if (variant.status === "failed")
    return [`variant FAILED: ${variant.id}: ${variant.reason ?? ""}`];
  return [];
}

function firstLine(text: string | undefined): string {
  return (text ?? "").trim().split("\n")[0] ?? "";
}
