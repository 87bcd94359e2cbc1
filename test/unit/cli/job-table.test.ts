import { describe, expect, it } from "vitest";
import { jobTable } from "../../../src/cli/commands/list.ts";
import type { ListedPlanJob } from "../../../src/pipeline/plan-pipeline.ts";

const need = (job: string): { job: string; artifacts: boolean; optional: boolean } => ({
  job,
  artifacts: true,
  optional: false,
});

describe("jobTable", () => {
  it("pads every column but NEEDS to its widest cell, two spaces apart, without trailing blanks", () => {
    const jobs: ListedPlanJob[] = [
      { name: "build", stage: "build", when: "on_success", allowFailure: false },
      { name: "a-much-longer-name", stage: "test", when: "manual", allowFailure: true, needs: [] },
      {
        name: "deploy",
        stage: "deploy",
        when: "delayed",
        allowFailure: { exitCodes: [3, 4] },
        needs: [need("build"), need("a-much-longer-name")],
      },
    ];
    expect(jobTable(jobs)).toBe(
      [
        "NAME                STAGE   WHEN        ALLOW_FAILURE   NEEDS",
        "build               build   on_success  false",
        "a-much-longer-name  test    manual      true            []",
        "deploy              deploy  delayed     exit_codes 3,4  build, a-much-longer-name",
        "",
      ].join("\n"),
    );
  });

  it("trims each line as a whole: blanks at the end of NEEDS go, and the padding before blank NEEDS", () => {
    const jobs: ListedPlanJob[] = [
      { name: "x", stage: "s", when: "always", allowFailure: false, needs: [need("y ")] },
      { name: "y ", stage: "s", when: "always", allowFailure: false, needs: [need(" ")] },
    ];
    expect(jobTable(jobs)).toBe(
      [
        "NAME  STAGE  WHEN    ALLOW_FAILURE  NEEDS",
        "x     s      always  false          y",
        "y     s      always  false",
        "",
      ].join("\n"),
    );
  });

  it("is the header alone for no jobs", () => {
    expect(jobTable([])).toBe("NAME  STAGE  WHEN  ALLOW_FAILURE  NEEDS\n");
  });
});
