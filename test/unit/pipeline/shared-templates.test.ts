import { describe, expect, it } from "vitest";
import { jobVariables, planErrors, planFrom } from "./helpers.ts";

// Jobs that extend the same templates share the templates' values, and pier reads and expands
// what they share once: each job must still get its own values and its own problems.
describe("jobs sharing templates", () => {
  it("expand shared variables with each job's own predefined and matrix values", async () => {
    const plan = await planFrom(
      [
        "variables:",
        "  GLOBAL: g",
        ".t:",
        "  variables:",
        "    ME: $CI_JOB_NAME-$GLOBAL",
        "    FIXED: $GLOBAL",
        "    SHARD_NAME: s$SHARD",
        "  script: x",
        "a:",
        "  extends: .t",
        "b:",
        "  extends: .t",
        "m:",
        "  extends: .t",
        "  parallel:",
        "    matrix:",
        "      - SHARD: ['1', '2']",
        "",
      ].join("\n"),
    );
    expect(jobVariables(plan, "a")).toMatchObject({ ME: "a-g", FIXED: "g", SHARD_NAME: "s$SHARD" });
    expect(jobVariables(plan, "b")).toMatchObject({ ME: "b-g", FIXED: "g" });
    expect(jobVariables(plan, "m: [1]")).toMatchObject({ ME: "m: [1]-g", SHARD_NAME: "s1" });
    expect(jobVariables(plan, "m: [2]")).toMatchObject({ ME: "m: [2]-g", SHARD_NAME: "s2" });
  });

  it("rule variables apply only to the jobs whose rule matched", async () => {
    const plan = await planFrom(
      [
        ".t:",
        "  variables: { X: $Y }",
        "  script: x",
        "a:",
        "  extends: .t",
        "  rules:",
        "    - if: $CI_JOB_NAME == 'a'",
        "      variables: { Y: from-rule }",
        "    - when: on_success",
        "b:",
        "  extends: a",
        "",
      ].join("\n"),
    );
    expect(jobVariables(plan, "a")).toMatchObject({ X: "from-rule", Y: "from-rule" });
    expect(jobVariables(plan, "b")).toEqual({ X: "$Y" });
  });

  it("report a problem in shared rules or variables for every job that uses them", async () => {
    const errors = await planErrors(
      [
        ".t:",
        "  variables: { 'bad-name': x }",
        "  rules:",
        "    - if: $A ==",
        "  script: x",
        "a:",
        "  extends: .t",
        "b:",
        "  extends: .t",
        "",
      ].join("\n"),
    );
    expect(errors.filter((error) => error.includes("invalid variable name"))).toHaveLength(2);
    expect(errors.filter((error) => error.includes("invalid expression syntax"))).toHaveLength(2);
    expect(errors.some((error) => error.includes("jobs:a:"))).toBe(true);
    expect(errors.some((error) => error.includes("jobs:b:"))).toBe(true);
  });
});
