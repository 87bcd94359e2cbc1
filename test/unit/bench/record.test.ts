import { describe, expect, it } from "vitest";
import { benchmarksIntro, upsertSection } from "../../../bench/lib/record.ts";

const section = (name: string, body: string): string =>
  `<!-- bench:${name} -->\n## ${name}\n${body}\n<!-- /bench:${name} -->`;

describe("recording into BENCHMARKS.md", () => {
  it("starts an empty document with the intro", () => {
    const document = upsertSection("", "startup", section("startup", "one"));
    expect(document.startsWith(benchmarksIntro.trimEnd())).toBe(true);
    expect(document.endsWith(`${section("startup", "one")}\n`)).toBe(true);
  });

  it("replaces the case's own section and leaves the others alone", () => {
    const before = upsertSection(
      upsertSection("", "startup", section("startup", "one")),
      "list-3-jobs",
      section("list-3-jobs", "three"),
    );
    const after = upsertSection(before, "startup", section("startup", "two"));
    expect(after).toContain(section("startup", "two"));
    expect(after).not.toContain(section("startup", "one"));
    expect(after).toContain(section("list-3-jobs", "three"));
    expect(after.indexOf("## startup")).toBeLessThan(after.indexOf("## list-3-jobs"));
  });
});
