import { UsageError } from "../errors.ts";

const DURATION_UNITS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `30d`, `12h`, `2w`, `90m`; `never` (or `0`) turns the age limit off. */
export function parseMaxAge(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "never" || trimmed === "0") return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(trimmed);
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new UsageError(`--max-age "${text}" is not a duration like 30d, 12h or never`);
  }
  return Number(match[1]) * unit;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** `20G`, `500MiB`, `1.5GB` (binary units either way); `none` turns the size limit off. */
export function parseMaxSize(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "none" || trimmed === "0") return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/.exec(trimmed);
  const unit = match?.[2] === undefined ? undefined : SIZE_UNITS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new UsageError(`--max-size "${text}" is not a size like 20G, 500MiB or none`);
  }
  return Math.floor(Number(match[1]) * unit);
}
