import { ReferenceTag } from "../load/reference-tag.ts";

export function isString(value: unknown): value is string {
  return typeof value === "string";
}

export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isString);
}

/** Scalars GitLab turns into strings where it expects a string (integers, mostly). */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * `script`-like values: a string or arrays of strings nested up to 10 levels (anchors and
 * `!reference` produce nesting), flattened. Undefined when the shape is wrong.
 */
export function flattenStrings(value: unknown, depth = 0): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value) || depth > 10) return undefined;
  const result: string[] = [];
  for (const item of value) {
    if (item instanceof ReferenceTag) return undefined;
    const flat =
      typeof item === "string"
        ? [item]
        : Array.isArray(item)
          ? flattenStrings(item, depth + 1)
          : undefined;
    if (!flat) return undefined;
    result.push(...flat);
  }
  return result;
}

/** Lists that may be nested by anchors or `!reference` (rules, stages): flattened one level at a time. */
export function flattenList(value: unknown[], depth = 0): unknown[] {
  if (depth > 10 || !value.some(Array.isArray)) return value;
  const result: unknown[] = [];
  for (const item of value) {
    if (Array.isArray(item)) result.push(...flattenList(item, depth + 1));
    else result.push(item);
  }
  return result;
}
