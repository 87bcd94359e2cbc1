import { isPlainObject, setKey } from "./plain-object.ts";
import { inheritPositions } from "./source-map.ts";

/**
 * ActiveSupport's `deep_merge`, as GitLab uses it for `include` and `extends`: mappings merge
 * at any depth; lists, scalars and null replace (so `key: null` drops an inherited value).
 * Returns a new mapping; the inputs are not changed.
 */
export function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  // Spreading defines the keys as own data properties (a `__proto__` key included, unlike
  // assignment) and leaves the positions behind (they are not enumerable): inherited below.
  const result: Record<string, unknown> = { ...base };
  inheritPositions(result, [override, base]);
  for (const key in override) {
    if (!Object.hasOwn(override, key)) continue;
    const next = override[key];
    const previous = result[key];
    const merged =
      Object.hasOwn(result, key) && isPlainObject(previous) && isPlainObject(next)
        ? deepMerge(previous, next)
        : next;
    setKey(result, key, merged);
  }
  return result;
}

/** A shallow copy that keeps the source positions of the mapping and its keys. */
export function copyMapping(source: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...source };
  inheritPositions(result, [source]);
  return result;
}
