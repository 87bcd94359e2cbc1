/**
 * Fields made when first read, with accessors shared by every object: each object keeps only
 * its state, in a hidden slot. Objects given the same fields in the same order share one shape
 * (an object literal with getters of its own gets a slow, dictionary shape of its own).
 *
 * A field reads as an ordinary enumerable property (spread and JSON.stringify see it); the
 * first read or a write replaces the accessor by a plain data property.
 */
export interface LazyFields<T extends object, S> {
  /** Gives `target` its state; before `define`. */
  attach(target: T, state: S): void;
  /** Adds the field `key` to `target`, made from its state when first read. */
  define(target: T, key: keyof T & string): void;
  /** Fields to add together (define's of each, in order, in one step): made once, used often. */
  group(keys: ReadonlyArray<keyof T & string>): LazyFieldGroup;
  /** Adds the fields of `group` to `target`, in the group's order. */
  defineGroup(target: T, group: LazyFieldGroup): void;
}

/** Fields added by LazyFields.defineGroup. */
export interface LazyFieldGroup {
  readonly descriptors: PropertyDescriptorMap;
}

export function lazyFields<T extends object, S>(makers: {
  [K in keyof T]?: (state: S) => T[K];
}): LazyFields<T, S> {
  const slot = Symbol("pier.lazyState");
  const descriptors = new Map<string, PropertyDescriptor>();
  for (const key of Object.keys(makers)) {
    const make = makers[key as keyof T] as (state: S) => unknown;
    descriptors.set(key, {
      get(this: Record<symbol, S>) {
        return settle(this, key, make(this[slot] as S));
      },
      set(this: object, value: unknown) {
        settle(this, key, value);
      },
      enumerable: true,
      configurable: true,
    });
  }
  const descriptorOf = (key: string): PropertyDescriptor => {
    const descriptor = descriptors.get(key);
    if (!descriptor) throw new Error(`no maker for the lazy field ${key}`);
    return descriptor;
  };
  return {
    attach(target, state) {
      Object.defineProperty(target, slot, { value: state });
    },
    define(target, key) {
      Object.defineProperty(target, key, descriptorOf(key));
    },
    group(keys) {
      const map: PropertyDescriptorMap = {};
      for (const key of keys) map[key] = descriptorOf(key);
      return { descriptors: map };
    },
    defineGroup(target, group) {
      Object.defineProperties(target, group.descriptors);
    },
  };
}

function settle(target: object, key: string, value: unknown): unknown {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return value;
}
