import { ReferenceTag } from "./reference-tag.ts";

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !(value instanceof ReferenceTag)
  );
}

/** Sets a key without letting `__proto__` change the prototype. */
export function setKey(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    target[key] = value;
  }
}

/**
 * An empty mapping meant for many keys (a configuration's top level). V8 gives an object filled
 * key by key a new shape for each key, which costs more and more as keys are added (several
 * milliseconds for a thousand jobs); an object that had a key deleted is a hash table instead.
 */
export function emptyLargeMapping(): Record<string, unknown> {
  const mapping: Record<string, unknown> = { first: true, second: true };
  delete mapping["first"];
  delete mapping["second"];
  return mapping;
}
