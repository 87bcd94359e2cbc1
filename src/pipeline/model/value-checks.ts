export function isString(value: unknown): value is string {
  return typeof value === "string";
}

export function isStringList(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  // A loop, not `every`: this runs for most keywords of every job, mostly before V8 optimises it.
  for (let index = 0; index < value.length; index++)
    if (typeof value[index] !== "string") return false;
  return true;
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
export function flattenStrings(value: unknown): string[] | undefined {
  if (typeof value === "string") return [value];
  if (!Array.isArray(value)) return undefined;
  // Usually already a flat list: kept as it is (lists are never changed once loaded).
  if (isStringList(value)) return value;
  const result: string[] = [];
  return collectStrings(value, 0, result) ? result : undefined;
}

function collectStrings(list: unknown[], depth: number, into: string[]): boolean {
  if (depth > 10) return false;
  for (const item of list) {
    if (typeof item === "string") into.push(item);
    else if (!Array.isArray(item) || !collectStrings(item, depth + 1, into)) return false;
  }
  return true;
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
