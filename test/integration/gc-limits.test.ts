import { describe, expect, it } from "vitest";
import { parseMaxAge, parseMaxSize } from "../../src/gc/gc-limits.ts";
import { ownerLabels, ownerOf } from "../../src/gc/owner-labels.ts";
import { currentProcess } from "../../src/storage/process-identity.ts";

describe("pier gc limits and owner labels (pure)", () => {
  it("parses --max-age and --max-size", () => {
    expect(parseMaxAge("30d")).toBe(30 * 86_400_000);
    expect(parseMaxAge("12h")).toBe(12 * 3_600_000);
    expect(parseMaxAge("2w")).toBe(14 * 86_400_000);
    expect(parseMaxAge("never")).toBeUndefined();
    expect(() => parseMaxAge("30 days")).toThrow(/duration/);
    expect(parseMaxSize("20G")).toBe(20 * 1024 ** 3);
    expect(parseMaxSize("500MiB")).toBe(500 * 1024 ** 2);
    expect(parseMaxSize("1.5GB")).toBe(Math.floor(1.5 * 1024 ** 3));
    expect(parseMaxSize("none")).toBeUndefined();
    expect(() => parseMaxSize("lots")).toThrow(/size/);
  });

  it("names the owner by pid and start time, and reads older label forms", () => {
    const me = currentProcess();
    const labels = ownerLabels();
    expect(labels["pier.managed"]).toBe("true");
    expect(ownerOf(labels)).toEqual(me);
    expect(ownerOf({ "pier.owner": "123" })).toEqual({ pid: 123, start: "" });
    expect(ownerOf({ "pier.owner": "a-random-id", "pier.pid": "42" })).toEqual({
      pid: 42,
      start: "",
    });
    expect(ownerOf({ "pier.managed": "true" })).toBeUndefined();
    expect(ownerOf(null)).toBeUndefined();
  });
});
