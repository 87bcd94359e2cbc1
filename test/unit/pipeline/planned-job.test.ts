import { describe, expect, it } from "vitest";
import { planFrom } from "./helpers.ts";

describe("a planned job", () => {
  it("has its predefined variables (built when read) in its JSON, in place", async () => {
    const plan = await planFrom("build:\n  script: x\n");
    const job = plan.jobs[0];
    if (!job) throw new Error("no job");
    const json = JSON.parse(JSON.stringify(job)) as Record<string, unknown>;
    const keys = Object.keys(json);
    expect(keys.indexOf("predefinedVariables")).toBe(keys.indexOf("variables") + 1);
    expect(json["predefinedVariables"]).toEqual(job.predefinedVariables);
    expect(job.predefinedVariables).toContainEqual({
      key: "CI_JOB_NAME",
      value: "build",
      expand: false,
    });
    expect(job.predefinedVariables).toBe(job.predefinedVariables);
    job.predefinedVariables = [];
    expect(job.predefinedVariables).toEqual([]);
    expect({ ...job }.predefinedVariables).toEqual([]);
  });
});
