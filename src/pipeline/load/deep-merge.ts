import { isPlainObject, setKey } from "./plain-object.ts";
import { copyKeyPosition, copyPosition } from "./source-map.ts";

/**
 * ActiveSupport's `deep_merge`, as GitLab uses it for `include` and `extends`: mappings merge
 * at any depth; lists, scalars and null replace (so `key: null` drops an inherited value).
 * Returns a new mapping; the inputs are not changed.
 */
export function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  copyPosition(base, result);
  copyPosition(override, result);
  for (const key of Object.keys(base)) {
    setKey(result, key, base[key]);
    copyKeyPosition(base, result, key);
  }
  for (const key of Object.keys(override)) {
    const next = override[key];
    const previous = result[key];
    const merged =
      Object.hasOwn(result, key) && isPlainObject(previous) && isPlainObject(next)
        ? deepMerge(previous, next)
        : next;
    setKey(result, key, merged);
    copyKeyPosition(override, result, key);
  }
  return result;
}

/** A shallow copy that keeps the source positions of the mapping and its keys. */
export function copyMapping(source: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  copyPosition(source, result);
  for (const key of Object.keys(source)) {
    setKey(result, key, source[key]);
    copyKeyPosition(source, result, key);
  }
  return result;
}
