const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration ("1h30m", "90s", "1.5h"), the format of RUNNER_SCRIPT_TIMEOUT and
 * RUNNER_AFTER_SCRIPT_TIMEOUT. Returns milliseconds, or undefined when it is not one.
 */
export function parseGoDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "0") return 0;
  // The micro sign as an escape: an ASCII-only bundle is read faster (see compile-cache.ts).
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|\u00b5s|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  while (at < trimmed.length) {
    part.lastIndex = at;
    const match = part.exec(trimmed);
    if (match === null) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN);
    at = part.lastIndex;
  }
  return at === 0 || Number.isNaN(total) ? undefined : total;
}
