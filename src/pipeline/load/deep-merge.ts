import { emptyLargeMapping, isPlainObject, setKey } from "./plain-object.ts";
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
  return mergeOnto({ ...base }, base, override);
}

/** deepMerge's work on `result`, a copy of `base`. */
function mergeOnto(
  result: Record<string, unknown>,
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  inheritPositions(result, [override, base]);
  // Own keys by index, not `for…in` with a hasOwn call for each: cheaper for unoptimised code.
  const keys = Object.keys(override);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    const next = override[key];
    const previous = result[key];
    const merged =
      isPlainObject(next) && isPlainObject(previous) && Object.hasOwn(result, key)
        ? deepMerge(previous, next)
        : next;
    setKey(result, key, merged);
  }
  return result;
}

/**
 * deepMerge of several mappings, left to right (`deepMerge(deepMerge(a, b), c)`), making one new
 * mapping at each level instead of one per step. A value only one of them has is shared, not
 * copied. The inputs are not changed.
 */
export function deepMergeAll(
  sources: ReadonlyArray<Record<string, unknown>>,
): Record<string, unknown> {
  const first = sources[0];
  if (first === undefined) return {};
  const result: Record<string, unknown> = { ...first };
  inheritPositions(result, sources.toReversed());
  // Keys whose values are mappings in several sources (since the last value that was not).
  let pending: Map<string, Array<Record<string, unknown>>> | undefined;
  for (let index = 1; index < sources.length; index++) {
    const source = sources[index] as Record<string, unknown>;
    const keys = Object.keys(source);
    for (let keyIndex = 0; keyIndex < keys.length; keyIndex++) {
      const key = keys[keyIndex] as string;
      const next = source[key];
      const previous = result[key];
      if (isPlainObject(next) && isPlainObject(previous) && Object.hasOwn(result, key)) {
        pending ??= new Map();
        const list = pending.get(key);
        if (list) list.push(next);
        else pending.set(key, [previous, next]);
      } else pending?.delete(key);
      setKey(result, key, next);
    }
  }
  if (pending) for (const [key, list] of pending) setKey(result, key, deepMergeAll(list));
  return result;
}

/** deepMerge of two configurations' top levels: many keys (see emptyLargeMapping). */
export function deepMergeLarge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const result = emptyLargeMapping();
  for (const key in base) if (Object.hasOwn(base, key)) setKey(result, key, base[key]);
  return mergeOnto(result, base, override);
}
