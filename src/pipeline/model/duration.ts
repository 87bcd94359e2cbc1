const unitSeconds: Array<[RegExp, number]> = [
  [/^(s|secs?|seconds?)$/, 1],
  [/^(m|mins?|minutes?)$/, 60],
  [/^(h|hrs?|hours?)$/, 3600],
  [/^(d|days?)$/, 86_400],
  [/^(w|wks?|weeks?)$/, 604_800],
  [/^(mo|mos|months?)$/, 2_592_000],
  [/^(y|yrs?|years?)$/, 31_557_600],
];

/**
 * GitLab's human durations (ChronicDuration): `3600`, `1h 30m`, `90 minutes`,
 * `1 hour and 5 mins`, `1.5h`, `3 mins 4 sec`. A bare number is seconds. Returns undefined when
 * the text is not a duration.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  // Pipelines repeat a few durations across their jobs.
  const known = parsed.get(value);
  if (known !== undefined || parsed.has(value)) return known;
  const seconds = parseDurationText(value);
  if (parsed.size > 10_000) parsed.clear();
  parsed.set(value, seconds);
  return seconds;
}

const parsed = new Map<string, number | undefined>();

function parseDurationText(value: string): number | undefined {
  const text = value
    .trim()
    .toLowerCase()
    .replace(/\band\b/g, " ")
    .replace(/,/g, " ");
  if (text === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const clock = /^(\d+):(\d{1,2})(?::(\d{1,2}))?$/.exec(text);
  if (clock) {
    const [a, b, c] = [
      Number(clock[1]),
      Number(clock[2]),
      clock[3] === undefined ? undefined : Number(clock[3]),
    ];
    return c === undefined ? a * 60 + b : a * 3600 + b * 60 + c;
  }
  const tokens = /(\d+(?:\.\d+)?)\s*([a-z]+)/g;
  let total = 0;
  let consumed = "";
  for (const match of text.matchAll(tokens)) {
    const unit = unitSeconds.find(([pattern]) => pattern.test(match[2] ?? ""));
    if (!unit) return undefined;
    total += Number(match[1]) * unit[1];
    consumed += match[0];
  }
  if (consumed.replace(/\s+/g, "") !== text.replace(/\s+/g, "")) return undefined;
  return Math.round(total);
}
