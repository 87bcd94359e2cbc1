import { describe, expect, it } from "vitest";

import {
  MAX_API_VERSION,
  compareApiVersions,
  negotiateApiVersion,
} from "../../../src/docker/api-version.ts";

describe("API version negotiation", () => {
  it("uses min(ours, the engine's)", () => {
    expect(negotiateApiVersion("1.41")).toBe("1.41");
    expect(negotiateApiVersion("1.44")).toBe("1.44");
    expect(negotiateApiVersion("1.51")).toBe(MAX_API_VERSION);
    expect(compareApiVersions(MAX_API_VERSION, "1.44")).toBeGreaterThanOrEqual(0);
  });

  it("compares numerically, not as text", () => {
    expect(compareApiVersions("1.9", "1.41")).toBeLessThan(0);
    expect(compareApiVersions("1.41", "1.41")).toBe(0);
    expect(compareApiVersions("2.0", "1.47")).toBeGreaterThan(0);
  });

  it("falls back to our minimum when the engine does not say", () => {
    expect(negotiateApiVersion(undefined)).toBe("1.40");
    expect(negotiateApiVersion("garbage")).toBe("1.40");
  });
});
