import { describe, expect, it } from "vitest";
import { parseExpireIn } from "../../../src/storage/expire-in.ts";

describe("parseExpireIn", () => {
  it("reads GitLab's duration forms", () => {
    expect(parseExpireIn("42")).toBe(42);
    expect(parseExpireIn("42 seconds")).toBe(42);
    expect(parseExpireIn("3 mins 4 sec")).toBe(184);
    expect(parseExpireIn("2 hrs 20 min")).toBe(8400);
    expect(parseExpireIn("2h20min")).toBe(8400);
    expect(parseExpireIn("6 mos 1 day")).toBe(6 * 30 * 86_400 + 86_400);
    expect(parseExpireIn("1 week and 2 days")).toBe(9 * 86_400);
    expect(parseExpireIn("30 days")).toBe(30 * 86_400);
  });

  it("returns null for never and undefined for what it cannot read", () => {
    expect(parseExpireIn("never")).toBeNull();
    expect(parseExpireIn("soon")).toBeUndefined();
    expect(parseExpireIn("3 fortnights")).toBeUndefined();
  });
});
