const secondsPerUnit: [RegExp, number][] = [
  [/^(s|secs?|seconds?)$/, 1],
  [/^(m|mins?|minutes?)$/, 60],
  [/^(h|hrs?|hours?)$/, 3600],
  [/^(d|days?)$/, 86_400],
  [/^(w|wks?|weeks?)$/, 7 * 86_400],
  [/^(mo|mos|months?)$/, 30 * 86_400],
  [/^(y|yrs?|years?)$/, 365 * 86_400],
];

/**
 * Seconds in an `expire_in` value as GitLab reads it ("42" is seconds, "3 mins 4 sec",
 * "2h20min", "1 week and 2 days"); null for "never"; undefined when it cannot be read.
 */
export function parseExpireIn(text: string): number | null | undefined {
  const value = text.trim().toLowerCase();
  if (value === "never") return null;
  if (/^\d+$/.test(value)) return Number(value);
  const tokens = value.replace(/\band\b|,/g, " ").match(/(\d+(?:\.\d+)?)\s*([a-z]+)/g);
  if (tokens === null) return undefined;
  const rest = value
    .replace(/\band\b|,/g, " ")
    .replace(/(\d+(?:\.\d+)?)\s*([a-z]+)/g, "")
    .trim();
  if (rest !== "") return undefined;
  let total = 0;
  for (const token of tokens) {
    const [, amount = "", unit = ""] = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(token) ?? [];
    const factor = secondsPerUnit.find(([pattern]) => pattern.test(unit))?.[1];
    if (factor === undefined) return undefined;
    total += Number(amount) * factor;
  }
  return Math.round(total);
}
