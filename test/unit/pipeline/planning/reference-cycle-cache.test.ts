import { describe, expect, it } from "vitest";
import type { YamlVariable } from "../../../../src/pipeline/model/pipeline-model.ts";
import {
  JobPredefined,
  JobVariablesCache,
  mayHaveReferenceCycle,
  PredefinedVariables,
  type VariableLayers,
} from "../../../../src/pipeline/planning/job-variables.ts";

const yaml = (values: Record<string, string>): YamlVariable[] =>
  Object.entries(values).map(([key, value]) => ({ key, value, expand: true }));

describe("mayHaveReferenceCycle with a planning's cache", () => {
  const predefined = new PredefinedVariables([["CI_COMMIT_SHA", "abc"]]);
  const jobPredefined = new JobPredefined(new Set(["CI_JOB_NAME"]), () => []);
  const inherited = yaml({ A: "$B", TAG: "$CI_COMMIT_SHA" });
  const layers = (parts: Partial<VariableLayers>): VariableLayers => ({
    predefined,
    jobPredefined,
    inherited,
    job: [],
    matrix: {},
    rule: {},
    user: {},
    ...parts,
  });

  it("answers each job by what its layers refer to, as without the cache", () => {
    const cache = new JobVariablesCache();
    const cases: Array<[VariableLayers, boolean]> = [
      [layers({ job: yaml({ C: "x" }) }), false],
      [layers({ job: yaml({ B: "$A" }) }), true],
      [layers({ job: yaml({ B: "b", URL: "$A/$TAG" }) }), false],
      [layers({ job: yaml({ B: "${A}" }) }), true],
      [layers({ job: yaml({ C: "x" }), matrix: { B: "$A" } }), true],
      [layers({ job: yaml({ C: "x" }), matrix: { B: "1" } }), false],
      [layers({ job: yaml({ C: "x" }), rule: { B: "%A%" } }), true],
      [layers({ job: yaml({ C: "x" }), user: { B: "$A" } }), true],
      [layers({ job: yaml({ C: "$CI_JOB_NAME" }) }), true],
      [layers({ job: yaml({ C: "x" }) }), false],
    ];
    for (const [job, expected] of cases) {
      expect(mayHaveReferenceCycle(job)).toBe(expected);
      expect(mayHaveReferenceCycle(job, cache)).toBe(expected);
    }
  });

  it("does not take an answer made with other predefined variables", () => {
    const cache = new JobVariablesCache();
    const job = yaml({ C: "$CI_COMMIT_SHA" });
    expect(mayHaveReferenceCycle(layers({ job }), cache)).toBe(false);
    const referencing = new PredefinedVariables([["CI_COMMIT_SHA", "uses $C"]]);
    expect(mayHaveReferenceCycle(layers({ job, predefined: referencing }), cache)).toBe(true);
  });
});
