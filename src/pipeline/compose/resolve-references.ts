import type { Diagnostics } from "../diagnostics.ts";
import { isPlainObject, setKey } from "../load/plain-object.ts";
import { ReferenceTag } from "../load/reference-tag.ts";
import { copyPosition, inheritPositions } from "../load/source-map.ts";

const maxReferenceDepth = 10;

class ReferenceFailure extends Error {}

/**
 * Replaces every `!reference [a, b, …]` by the value it points to in the configuration (after
 * `extends`), following references inside references up to 10 levels. The configuration's top
 * level is changed in place (the loader made it for this compile alone) and returned; the values
 * in it are not changed. `referenceFree`: mappings and sequences known to hold no
 * reference at any depth (from the loader), not looked into.
 */
export function resolveReferences(
  config: Record<string, unknown>,
  diagnostics: Diagnostics,
  referenceFree?: ReadonlySet<object>,
): Record<string, unknown> {
  const cache = new Map<string, unknown>();
  const reported = new Set<string>();

  const report = (tag: ReferenceTag, message: string): never => {
    const key = `${tag.position?.file}:${tag.position?.line}:${tag.position?.column}`;
    if (!reported.has(key)) {
      reported.add(key);
      diagnostics.error(tag.position, message);
    }
    throw new ReferenceFailure(message);
  };

  const lookup = (tag: ReferenceTag, chain: string[]): unknown => {
    const text = tag.toString();
    if (tag.path.length === 0 || tag.path.some((part) => typeof part !== "string")) {
      return report(tag, `${text} is not valid`);
    }
    if (chain.includes(text)) return report(tag, `${text} is part of a circular chain`);
    if (chain.length >= maxReferenceDepth)
      return report(tag, `${text} is nested too deeply (more than ${maxReferenceDepth} levels)`);
    if (cache.has(text)) return cache.get(text);
    let value: unknown = config;
    for (const part of tag.path as string[]) {
      if (value instanceof ReferenceTag) value = lookup(value, [...chain, text]);
      if (!isPlainObject(value) || !Object.hasOwn(value, part))
        return report(tag, `${text} could not be found`);
      value = value[part];
    }
    const result = walk(value, [...chain, text]);
    cache.set(text, result);
    return result;
  };

  // Extended jobs share their parents' values: each shared value is walked once. A value
  // without references comes back as itself. (A Map, not a WeakMap: it lives only for this
  // call, and a WeakMap costs the collector more for every one of its thousands of entries.)
  const walked = new Map<object, unknown>();

  const walk = (value: unknown, chain: string[]): unknown => {
    if (typeof value !== "object" || value === null) return value;
    if (value instanceof ReferenceTag) return lookup(value, chain);
    if (referenceFree?.has(value)) return value;
    const top = chain.length === 0;
    if (top) {
      const done = walked.get(value);
      if (done !== undefined) return done;
    }
    let result: unknown = value;
    if (Array.isArray(value)) {
      let list: unknown[] | undefined;
      for (let index = 0; index < value.length; index++) {
        const item: unknown = value[index];
        const next = typeof item === "object" && item !== null ? walk(item, chain) : item;
        if (list) list.push(next);
        else if (next !== item) {
          list = value.slice(0, index);
          list.push(next);
        }
      }
      if (list) {
        copyPosition(value, list);
        result = list;
      }
    } else {
      const source = value as Record<string, unknown>;
      let mapping: Record<string, unknown> | undefined;
      const keys = Object.keys(source);
      for (let index = 0; index < keys.length; index++) {
        const key = keys[index] as string;
        const item = source[key];
        if (typeof item !== "object" || item === null) continue;
        const next = walk(item, chain);
        if (next === item) continue;
        if (!mapping) {
          // Spreading copies every key in place (as own data properties, a `__proto__` key
          // included) in native code; the positions are not enumerable: inherited.
          mapping = { ...source };
          inheritPositions(mapping, [source]);
        }
        setKey(mapping, key, next);
      }
      if (mapping) result = mapping;
    }
    if (top) walked.set(value, result);
    return result;
  };

  // Replaced only once all are resolved: every reference reads the configuration as written,
  // so whether a chain is too deep does not depend on the order of the entries.
  const names = Object.keys(config);
  const changed: unknown[] = [];
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    const value = config[name];
    try {
      const resolved = walk(value, []);
      if (resolved !== value) changed.push(name, resolved);
    } catch (error) {
      if (!(error instanceof ReferenceFailure)) throw error;
    }
  }
  for (let index = 0; index < changed.length; index += 2)
    setKey(config, changed[index] as string, changed[index + 1]);
  return config;
}
