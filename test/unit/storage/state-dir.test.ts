import { describe, expect, it } from "vitest";
import { safeDirComponent } from "../../../src/storage/safe-name.ts";
import { buildsRoot, runDir, stateRoot } from "../../../src/storage/state-dir.ts";

describe("state directories", () => {
  it("uses $XDG_STATE_HOME/pier, else ~/.local/state/pier, ignoring a relative XDG_STATE_HOME", () => {
    expect(stateRoot({ XDG_STATE_HOME: "/var/state", HOME: "/home/u" })).toBe("/var/state/pier");
    expect(stateRoot({ HOME: "/home/u" })).toBe("/home/u/.local/state/pier");
    expect(stateRoot({ XDG_STATE_HOME: "relative", HOME: "/home/u" })).toBe(
      "/home/u/.local/state/pier",
    );
  });

  it("puts runs under runs/<pipeline id> and builds under builds", () => {
    expect(runDir("/s/pier", 42)).toBe("/s/pier/runs/42");
    expect(buildsRoot("/s/pier")).toBe("/s/pier/builds");
  });
});

describe("safeDirComponent", () => {
  it("keeps safe names and makes others safe and distinct", () => {
    expect(safeDirComponent("main-cache_1.2")).toBe("main-cache_1.2");
    const a = safeDirComponent("group/project");
    const b = safeDirComponent("group_project");
    expect(a).toMatch(/^group_project-[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    expect(safeDirComponent("..")).not.toContain("/");
    expect(safeDirComponent("..")).not.toBe("..");
    expect(safeDirComponent("x".repeat(300)).length).toBeLessThan(100);
  });
});
