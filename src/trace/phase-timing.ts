import { performance } from "node:perf_hooks";

const enabled = process.env["PIER_TRACE_TIMING"] === "1";

/**
 * With PIER_TRACE_TIMING=1, prints on stderr how long after the process started a phase of a
 * run was reached; otherwise does nothing. For finding where `pier run` spends its time.
 */
export function markPhase(label: string): void {
  if (enabled) process.stderr.write(`pier timing ${performance.now().toFixed(1)} ms ${label}\n`);
}
