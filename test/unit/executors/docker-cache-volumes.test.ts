import { describe, expect, it } from "vitest";
import { cacheVolumeName, cacheVolumePaths } from "../../../src/executors/docker/cache-volumes.ts";

describe("cache volumes", () => {
  it("takes the volumes entries without a host part", () => {
    expect(cacheVolumePaths(["/cache", "/certs/client", "/host:/ctr", "/a:/b:ro"])).toEqual([
      "/cache",
      "/certs/client",
    ]);
  });

  it("names one engine-safe volume per project, slot and path", () => {
    const name = (slot: number, path: string, projectPath = "group/sub/app"): string =>
      cacheVolumeName({ projectPath, projectKey: "0123456789ab", slot, path });
    expect(name(0, "/cache")).toMatch(
      /^pier-cache-group-sub-app-0123456789ab-concurrent-0-[0-9a-f]{12}$/,
    );
    expect(name(0, "/cache")).toBe(name(0, "/cache"));
    expect(name(1, "/cache")).not.toBe(name(0, "/cache"));
    expect(name(0, "/other")).not.toBe(name(0, "/cache"));
    expect(name(0, "/cache", "../..")).toMatch(/^pier-cache-0123456789ab-concurrent-0-/);
    expect(name(0, "/cache", "x".repeat(300)).length).toBeLessThan(100);
  });
});
