import { describe, expect, it } from "vitest";
import { jobNamed, planErrors, planFrom } from "./helpers.ts";

describe("positions in a file that includes others", () => {
  it("a job of the including file is where its key is, not in the included file", async () => {
    const files = { "other.yml": "other:\n  script: y\n" };
    const plan = await planFrom("include: other.yml\n\nmain:\n  script: x\n", { files });
    expect(jobNamed(plan, "main").position).toEqual({
      file: ".gitlab-ci.yml",
      line: 3,
      column: 1,
    });
    expect(jobNamed(plan, "other").position).toEqual({ file: "other.yml", line: 1, column: 1 });
  });

  it("messages about such a job point at it", async () => {
    const files = { "other.yml": "other:\n  script: y\n" };
    expect(await planErrors("include: other.yml\n\nmain:\n  when: manual\n", { files })).toEqual([
      "3:1: jobs main config should implement the script:, run:, or trigger: keyword",
    ]);
  });
});
