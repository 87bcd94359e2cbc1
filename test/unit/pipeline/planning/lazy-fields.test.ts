import { describe, expect, it } from "vitest";
import { lazyFields } from "../../../../src/pipeline/planning/lazy-fields.ts";

interface Item {
  name: string;
  size?: number;
  label?: string;
}

describe("lazyFields", () => {
  const made: string[] = [];
  const fields = lazyFields<Item, { base: number }>({
    size: (state) => {
      made.push("size");
      return state.base * 2;
    },
    label: (state) => `label ${state.base}`,
  });

  function item(base: number): Item {
    const target: Item = { name: `item ${base}` };
    fields.attach(target, { base });
    fields.define(target, "size");
    fields.define(target, "label");
    return target;
  }

  it("makes a field from the object's own state once, on first read, then keeps a data property", () => {
    made.length = 0;
    const first = item(3);
    const second = item(5);
    expect(made).toEqual([]);
    expect(second.size).toBe(10);
    expect(first.size).toBe(6);
    expect(first.size).toBe(6);
    expect(made).toEqual(["size", "size"]);
    expect(Object.getOwnPropertyDescriptor(first, "size")).toEqual({
      value: 6,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });

  it("reads as ordinary enumerable fields, in definition order, without the state", () => {
    const value = item(2);
    expect(Object.keys(value)).toEqual(["name", "size", "label"]);
    expect({ ...value }).toEqual({ name: "item 2", size: 4, label: "label 2" });
    expect(JSON.parse(JSON.stringify(item(1)))).toEqual({
      name: "item 1",
      size: 2,
      label: "label 1",
    });
  });

  it("takes a written value instead of making one", () => {
    made.length = 0;
    const value = item(4);
    value.size = 42;
    expect(value.size).toBe(42);
    expect(made).toEqual([]);
  });

  it("refuses a field it has no maker for", () => {
    expect(() => fields.define({ name: "x" }, "name")).toThrow(/no maker for the lazy field name/);
  });
});
