/** Seconds per unit, by every spelling ChronicDuration accepts. */
const unitSeconds = new Map<string, number>([
  ["s", 1],
  ["sec", 1],
  ["secs", 1],
  ["second", 1],
  ["seconds", 1],
  ["m", 60],
  ["min", 60],
  ["mins", 60],
  ["minute", 60],
  ["minutes", 60],
  ["h", 3600],
  ["hr", 3600],
  ["hrs", 3600],
  ["hour", 3600],
  ["hours", 3600],
  ["d", 86_400],
  ["day", 86_400],
  ["days", 86_400],
  ["w", 604_800],
  ["wk", 604_800],
  ["wks", 604_800],
  ["week", 604_800],
  ["weeks", 604_800],
  ["mo", 2_592_000],
  ["mos", 2_592_000],
  ["month", 2_592_000],
  ["months", 2_592_000],
  ["y", 31_557_600],
  ["yr", 31_557_600],
  ["yrs", 31_557_600],
  ["year", 31_557_600],
  ["years", 31_557_600],
]);

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
  const scanned = scanDuration(value);
  const seconds = scanned === null ? parseDurationText(value) : scanned;
  if (parsed.size > 10_000) parsed.clear();
  parsed.set(value, seconds);
  return seconds;
}

const parsed = new Map<string, number | undefined>();

const space = 32;
const dot = 46;

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  const lower = code | 0x20;
  return lower >= 97 && lower <= 122;
}

/**
 * parseDurationText for the usual durations (`30m`, `1 week`, `1h 30m`: ASCII digits, letters,
 * dots and spaces), read char by char: the regular expressions take longer to compile, once in
 * every process, than a pipeline's durations take to read. Null for any other text (`and`,
 * commas, clock times, other white space), which parseDurationText reads.
 */
function scanDuration(value: string): number | undefined | null {
  for (let index = 0, run = 0; index <= value.length; index++) {
    const code = index < value.length ? value.charCodeAt(index) : space;
    if (isLetter(code)) {
      run++;
      continue;
    }
    // `and` between words is read as a space: left to parseDurationText.
    if (run === 3 && value.slice(index - 3, index).toLowerCase() === "and") return null;
    run = 0;
    if (!isDigit(code) && code !== dot && code !== space) return null;
  }
  const text = value.toLowerCase();
  let index = 0;
  let end = text.length;
  while (index < end && text.charCodeAt(index) === space) index++;
  while (end > index && text.charCodeAt(end - 1) === space) end--;
  if (index === end) return undefined;
  const start = index;
  let total = 0;
  while (index < end) {
    // A number, optionally with a fraction, then (after spaces) its unit: `1.5 h`.
    const numberStart = index;
    while (index < end && isDigit(text.charCodeAt(index))) index++;
    if (index === numberStart) return undefined;
    if (index < end && text.charCodeAt(index) === dot) {
      const fraction = ++index;
      while (index < end && isDigit(text.charCodeAt(index))) index++;
      if (index === fraction) return undefined;
    }
    const numberEnd = index;
    if (numberStart === start && numberEnd === end) return Number(text.slice(start, end));
    while (index < end && text.charCodeAt(index) === space) index++;
    const unitStart = index;
    while (index < end && isLetter(text.charCodeAt(index))) index++;
    const seconds = unitSeconds.get(text.slice(unitStart, index));
    if (seconds === undefined) return undefined;
    total += Number(text.slice(numberStart, numberEnd)) * seconds;
    while (index < end && text.charCodeAt(index) === space) index++;
  }
  return Math.round(total);
}

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
    const unit = unitSeconds.get(match[2] ?? "");
    if (unit === undefined) return undefined;
    total += Number(match[1]) * unit;
    consumed += match[0];
  }
  if (consumed.replace(/\s+/g, "") !== text.replace(/\s+/g, "")) return undefined;
  return Math.round(total);
}
