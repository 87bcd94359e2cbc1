import type { Writable } from "node:stream";
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

export interface TerminalReporter extends Required<RunListener> {
  finish(result: LocalRunResult): void;
}

// GitLab's section markers are for its log viewer; on a terminal they are noise.
// eslint-disable-next-line no-control-regex -- the marker ends in ESC [0K
const SECTION_MARKER = /section_(?:start|end):\d+:[^\r\n]*?\r\x1b\[0K/g;
// eslint-disable-next-line no-control-regex -- colour and erase sequences
const ANSI_ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;
const ESC = 0x1b;
const CARRIAGE_RETURN = 0x0d;
const NEWLINE = 0x0a;

/**
 * Live output of a local run: each job's log lines with the job's name in front, status
 * changes as they happen, and on a terminal a redrawn status line; a summary table at the end.
 */
export function createTerminalReporter(options: TerminalReporterOptions): TerminalReporter {
  const colors = createColors(options.color);
  /** Each job's output after its last complete line (copies: callers may reuse their buffers). */
  const partial = new Map<string, Buffer[]>();
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

  const emit = (text: string | Buffer): void => {
    if (!options.live) {
      options.out.write(text);
      return;
    }
    if (statusLineShown) options.out.write("\r\x1b[K");
    options.out.write(text);
    options.out.write(statusLine());
    statusLineShown = true;
  };

  const cleanLine = (line: string): string => {
    let withoutMarkers = line.replace(SECTION_MARKER, "");
    if (!options.color) withoutMarkers = withoutMarkers.replace(ANSI_ESCAPE, "");
    const lastReturn = withoutMarkers.lastIndexOf("\r");
    return lastReturn === -1 ? withoutMarkers : withoutMarkers.slice(lastReturn + 1);
  };

  const prefixedLines = (job: PlannedJob, complete: Buffer): string | Buffer => {
    const linePrefix = prefix(job);
    const lineEnd = `${colors.reset("")}\n`;
    if (complete.includes(ESC) || complete.includes(CARRIAGE_RETURN)) {
      return complete
        .toString("utf8")
        .split("\n")
        .map((line) => `${linePrefix}${cleanLine(line)}${lineEnd}`)
        .join("");
    }
    // Most output has no escape sequence and no carriage return: it is prefixed as bytes, never
    // decoded (latin1 maps each byte to one character, and a newline byte is never part of a
    // multi-byte character), which spares decoding and encoding every line.
    const asBytes = (text: string): string => Buffer.from(text).toString("latin1");
    const bytesPrefix = asBytes(linePrefix);
    const bytesEnd = asBytes(lineEnd);
    const prefixed = complete.toString("latin1").replaceAll("\n", `${bytesEnd}${bytesPrefix}`);
    return Buffer.from(`${bytesPrefix}${prefixed}${bytesEnd}`, "latin1");
  };

  const flushLines = (job: PlannedJob, chunk: Buffer | undefined): void => {
    const pending = partial.get(job.name) ?? [];
    const lastNewline = chunk?.lastIndexOf(NEWLINE) ?? -1;
    if (chunk !== undefined && lastNewline === -1) {
      partial.set(job.name, [...pending, Buffer.from(chunk)]);
      return;
    }
    const rest = chunk?.subarray(lastNewline + 1);
    partial.set(job.name, rest === undefined || rest.length === 0 ? [] : [Buffer.from(rest)]);
    if (chunk === undefined && pending.length === 0) return;
    const complete = Buffer.concat(
      chunk === undefined ? pending : [...pending, chunk.subarray(0, lastNewline)],
    );
    emit(prefixedLines(job, complete));
  };

  return {
    onJobStatus(job, status) {
      if (!statuses.has(job.name) && status === "created") {
        statuses.set(job.name, status);
        return;
      }
      statuses.set(job.name, status);
      if (["success", "failed", "canceled"].includes(status)) flushLines(job, undefined);
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
      flushLines(job, chunk);
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
