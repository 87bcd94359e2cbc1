import type { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createColors } from "picocolors";
import type { JobStatus } from "../local/job-status.ts";
import type { LocalRunResult, RunListener } from "../local/run-pipeline.ts";
import type { PlannedJob } from "../pipeline/plan.ts";
import { statusPaint, summaryTable } from "./summary-table.ts";

export interface TerminalReporterOptions {
  out: Writable;
  /** Redraw a status line at the bottom (a terminal, without --plain). */
  live: boolean;
  color: boolean;
}

export interface TerminalReporter extends RunListener {
  finish(result: LocalRunResult): void;
}

// GitLab's section markers are for its log viewer; on a terminal they are noise.
// eslint-disable-next-line no-control-regex -- the marker ends in ESC [0K
const SECTION_MARKER = /section_(?:start|end):\d+:[^\r\n]*?\r\x1b\[0K/g;
// eslint-disable-next-line no-control-regex -- colour and erase sequences
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Live output of a local run: each job's log lines with the job's name in front, status
 * changes as they happen, and on a terminal a redrawn status line; a summary table at the end.
 */
export function createTerminalReporter(options: TerminalReporterOptions): TerminalReporter {
  const colors = createColors(options.color);
  const partial = new Map<string, string>();
  const decoders = new Map<string, StringDecoder>();
  const statuses = new Map<string, JobStatus>();
  const nameColors = [colors.cyan, colors.magenta, colors.blue, colors.yellow, colors.green];
  const prefixes = new Map<string, string>();
  let statusLineShown = false;

  const prefix = (job: PlannedJob): string => {
    let value = prefixes.get(job.name);
    if (value === undefined) {
      const paint = nameColors[prefixes.size % nameColors.length] ?? colors.cyan;
      value = `${paint(job.name)} ${colors.dim("│")} `;
      prefixes.set(job.name, value);
    }
    return value;
  };

  const statusLine = (): string => {
    const running = [...statuses].filter(([, s]) => s === "running").map(([name]) => name);
    const done = [...statuses.values()].filter((s) =>
      ["success", "failed", "canceled", "skipped"].includes(s),
    ).length;
    return colors.dim(`running: ${running.join(", ") || "-"}  ·  ${done}/${statuses.size} done`);
  };

  const emit = (text: string): void => {
    if (!options.live) {
      options.out.write(text);
      return;
    }
    options.out.write(`${statusLineShown ? "\r\x1b[K" : ""}${text}${statusLine()}`);
    statusLineShown = true;
  };

  const cleanLine = (line: string): string => {
    let withoutMarkers = line.replace(SECTION_MARKER, "");
    if (!options.color) withoutMarkers = withoutMarkers.replace(ANSI_ESCAPE, "");
    const lastReturn = withoutMarkers.lastIndexOf("\r");
    return lastReturn === -1 ? withoutMarkers : withoutMarkers.slice(lastReturn + 1);
  };

  const flushLines = (job: PlannedJob, final: boolean): void => {
    const buffered = partial.get(job.name) ?? "";
    const lines = buffered.split("\n");
    const rest = final ? "" : (lines.pop() ?? "");
    partial.set(job.name, rest);
    if (final && lines.at(-1) === "") lines.pop();
    const text = lines
      .map((line) => `${prefix(job)}${cleanLine(line)}${colors.reset("")}\n`)
      .join("");
    if (text !== "") emit(text);
  };

  return {
    onJobStatus(job, status) {
      if (!statuses.has(job.name) && status === "created") {
        statuses.set(job.name, status);
        return;
      }
      statuses.set(job.name, status);
      if (["success", "failed", "canceled"].includes(status)) flushLines(job, true);
      if (status === "created" || status === "pending") {
        if (options.live) emit("");
        return;
      }
      const allowed = status === "failed" && job.allowFailure !== false;
      const label = statusPaint(
        status,
        allowed,
        colors,
      )(allowed ? "failed (allowed to fail)" : status);
      emit(`${prefix(job)}${colors.bold(`job ${label}`)}\n`);
    },
    onJobOutput(job, chunk) {
      let decoder = decoders.get(job.name);
      if (decoder === undefined) {
        decoder = new StringDecoder("utf8");
        decoders.set(job.name, decoder);
      }
      partial.set(job.name, (partial.get(job.name) ?? "") + decoder.write(chunk));
      flushLines(job, false);
    },
    onWarning(message) {
      emit(`${colors.yellow(`WARNING: ${message}`)}\n`);
    },
    finish(result) {
      if (options.live && statusLineShown) options.out.write("\r\x1b[K");
      statusLineShown = false;
      options.out.write(`\n${summaryTable(result, colors)}`);
    },
  };
}
