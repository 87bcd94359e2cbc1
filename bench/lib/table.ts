/** Milliseconds for people: "0.84 ms", "45.3 ms", "312 ms", "2.41 s", "1 min 52 s". */
export function formatDuration(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms - minutes * 60_000) / 1000)} s`;
}

/** Kilobytes (as GNU time reports them) in decimal megabytes, the unit the issue's targets use. */
export function formatMemory(kilobytes: number): string {
  return `${kilobytesToMegabytes(kilobytes).toFixed(0)} MB`;
}

export function kilobytesToMegabytes(kilobytes: number): number {
  return (kilobytes * 1024) / 1_000_000;
}

/** A ratio as a multiplier: "1.43×", "0.052×". */
export function formatRatio(ratio: number): string {
  return ratio >= 0.1 ? `${ratio.toFixed(2)}×` : `${ratio.toPrecision(2)}×`;
}

export type Alignment = "left" | "right";

/** A Markdown table with padded columns, readable as plain text in a terminal. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  alignments: readonly Alignment[] = [],
): string {
  const widths = headers.map((header, column) =>
    Math.max(3, header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const pad = (cell: string, column: number): string => {
    const width = widths[column] ?? cell.length;
    return alignments[column] === "right" ? cell.padStart(width) : cell.padEnd(width);
  };
  const line = (cells: readonly string[]): string =>
    `| ${headers.map((_, column) => pad(cells[column] ?? "", column)).join(" | ")} |`;
  const rule = `| ${widths
    .map((width, column) =>
      alignments[column] === "right" ? `${"-".repeat(width - 1)}:` : "-".repeat(width),
    )
    .join(" | ")} |`;
  return [line(headers), rule, ...rows.map(line)].join("\n");
}
