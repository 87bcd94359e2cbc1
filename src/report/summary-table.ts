import type { LocalRunResult } from "../local/run-pipeline.ts";
import { formatDuration } from "./format-duration.ts";

type Paint = (text: string) => string;

export interface Colors {
  green: Paint;
  red: Paint;
  yellow: Paint;
  dim: Paint;
  bold: Paint;
}

/** The colour a status is shown in. */
export function statusPaint(
  status: string,
  allowedFailure: boolean,
  colors: Colors,
): (text: string) => string {
  if (status === "success") return colors.green;
  if (status === "failed") return allowedFailure ? colors.yellow : colors.red;
  if (status === "canceled") return colors.red;
  return colors.dim;
}

/** The end-of-run table: job, stage, status, duration, exit code. */
export function summaryTable(result: LocalRunResult, colors: Colors): string {
  const header = ["job", "stage", "status", "duration", "exit code"];
  const rows = result.jobs.map((job) => [
    job.name,
    job.stage,
    job.status === "failed" && job.allowFailure ? "failed (allowed)" : job.status,
    job.attempts > 0 ? formatDuration(job.durationMs) : "",
    job.exitCode === undefined ? "" : String(job.exitCode),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const pad = (cells: string[]): string[] =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0));
  const out = [colors.bold(pad(header).join("  ").trimEnd())];
  result.jobs.forEach((job, index) => {
    const cells = pad(rows[index] ?? []);
    cells[2] = statusPaint(job.status, job.allowFailure, colors)(cells[2] ?? "");
    out.push(cells.join("  ").trimEnd());
  });
  const label = result.status === "manual" ? "blocked" : result.status;
  const status = statusPaint(result.status, false, colors)(label);
  out.push(
    `pipeline ${status} in ${formatDuration(result.durationMs)}  ${colors.dim(`(logs: ${result.runDir})`)}`,
  );
  const waiting = result.jobs.filter((job) => job.status === "manual").map((job) => job.name);
  if (waiting.length > 0) {
    out.push(
      colors.dim(`manual jobs waiting: ${waiting.join(", ")} (play one with --manual NAME)`),
    );
  }
  return `${out.join("\n")}\n`;
}
