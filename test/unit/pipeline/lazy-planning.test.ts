import { describe, expect, it } from "vitest";
import type { YamlVariable } from "../../../src/pipeline/model/pipeline-model.ts";
import {
  JobPredefined,
  mayHaveReferenceCycle,
  PredefinedVariables,
  type VariableLayers,
} from "../../../src/pipeline/planning/job-variables.ts";
import { jobNamed, planErrors, planFrom } from "./helpers.ts";

function layers(parts: {
  predefined?: Array<[string, string]>;
  jobPredefined?: string[];
  inherited?: Record<string, string>;
  job?: Record<string, string>;
  matrix?: Record<string, string>;
  rule?: Record<string, string>;
  user?: Record<string, string>;
}): VariableLayers {
  const yaml = (values: Record<string, string> = {}): YamlVariable[] =>
    Object.entries(values).map(([key, value]) => ({ key, value, expand: true }));
  return {
    predefined: new PredefinedVariables(parts.predefined ?? []),
    jobPredefined: new JobPredefined(new Set(parts.jobPredefined ?? []), () => []),
    inherited: yaml(parts.inherited),
    job: yaml(parts.job),
    matrix: parts.matrix ?? {},
    rule: parts.rule ?? {},
    user: parts.user ?? {},
  };
}

describe("mayHaveReferenceCycle", () => {
  it("is false when the references form no loop", () => {
    expect(mayHaveReferenceCycle(layers({ inherited: { A: "a" }, job: { B: "b" } }))).toBe(false);
    expect(
      mayHaveReferenceCycle(
        layers({
          predefined: [["CI_COMMIT_SHA", "abc"]],
          inherited: { A: "a", TAG: "$CI_COMMIT_SHA" },
          job: { URL: "x/$A:$TAG" },
          matrix: { SHARD: "1" },
        }),
      ),
    ).toBe(false);
  });

  it("is true when references may close a loop, across any layers", () => {
    expect(mayHaveReferenceCycle(layers({ inherited: { A: "$B" }, job: { B: "$A" } }))).toBe(true);
    expect(
      mayHaveReferenceCycle(layers({ inherited: { A: "$B", B: "$C" }, job: { C: "x$A" } })),
    ).toBe(true);
    expect(mayHaveReferenceCycle(layers({ job: { A: "$B" }, rule: { B: "${A}" } }))).toBe(true);
    expect(mayHaveReferenceCycle(layers({ matrix: { A: "%B%" }, user: { B: "$A" } }))).toBe(true);
    // A variable that extends its own name's earlier value is looked at closely.
    expect(mayHaveReferenceCycle(layers({ inherited: { PATH: "$PATH:/x" } }))).toBe(true);
  });

  it("is true when a reference reaches a job-level predefined variable or a predefined value with references", () => {
    expect(
      mayHaveReferenceCycle(layers({ jobPredefined: ["CI_JOB_NAME"], job: { A: "$CI_JOB_NAME" } })),
    ).toBe(true);
    expect(
      mayHaveReferenceCycle(
        layers({ predefined: [["CI_COMMIT_TITLE", "uses $A"]], job: { A: "$CI_COMMIT_TITLE" } }),
      ),
    ).toBe(true);
  });
});

describe("planned jobs expanded when read", () => {
  it("reports a reference cycle among a job's variables, whatever reads the plan", async () => {
    const errors = await planErrors(
      "variables:\n  A: $B\njob:\n  variables:\n    B: $A\n  image: img:$A\n  script: x\n",
    );
    expect(errors).toEqual(['3:1: job: circular variable reference detected: ["A", "B"]']);
  });

  it("reports a cycle closed by rule variables and one through a matrix", async () => {
    const rule = await planErrors(
      "job:\n  variables:\n    A: $B\n  rules:\n    - variables:\n        B: x$A\n  script: x\n",
    );
    expect(rule.join("\n")).toContain("job: circular variable reference detected");
    const matrix = await planErrors(
      "job:\n  variables:\n    A: $B\n  parallel:\n    matrix:\n      - B: [$A]\n  script: x\n",
    );
    expect(matrix.join("\n")).toContain("circular variable reference detected");
  });

  it("expands variables, image, services, cache, tags, artifacts, environment and resource group", async () => {
    const plan = await planFrom(
      [
        "variables:",
        "  V: v1",
        "job:",
        "  variables:",
        "    W: $V-w",
        "  image: img:$W",
        "  services: [svc:$V]",
        "  cache: {key: k-$W, paths: [p/$V]}",
        "  tags: [t-$V]",
        "  artifacts: {name: a-$V, paths: [out/$W]}",
        "  environment: {name: env/$V, url: https://$W}",
        "  resource_group: rg-$V",
        "  script: x",
      ].join("\n"),
    );
    const job = jobNamed(plan, "job");
    expect(job.variables).toEqual([
      { key: "V", value: "v1", expand: true },
      { key: "W", value: "v1-w", expand: true },
    ]);
    expect(job.image?.name).toBe("img:v1-w");
    expect(job.services.map((service) => service.name)).toEqual(["svc:v1"]);
    expect(job.cache[0]?.key).toBe("k-v1-w");
    expect(job.cache[0]?.paths).toEqual(["p/v1"]);
    expect(job.tags).toEqual(["t-v1"]);
    expect(job.artifacts?.name).toBe("a-v1");
    expect(job.artifacts?.paths).toEqual(["out/v1-w"]);
    expect(job.environment).toEqual({ name: "env/v1", url: "https://v1-w" });
    expect(job.resourceGroup).toBe("rg-v1");
  });

  it("gives plain data properties, in the same order, that can be replaced and spread", async () => {
    const plan = await planFrom("job:\n  image: alpine\n  script: x\n");
    const job = jobNamed(plan, "job");
    expect(Object.keys(job)).toEqual([
      "name",
      "baseName",
      "stage",
      "stageIndex",
      "when",
      "allowFailure",
      "retry",
      "interruptible",
      "services",
      "beforeScript",
      "script",
      "afterScript",
      "variables",
      "predefinedVariables",
      "cache",
      "tags",
      "position",
      "image",
    ]);
    job.cache = [];
    expect(Object.getOwnPropertyDescriptor(job, "cache")?.value).toEqual([]);
    const copy = { ...job };
    expect(Object.getOwnPropertyDescriptor(copy, "image")?.value).toEqual({ name: "alpine" });
    expect((JSON.parse(JSON.stringify(job)) as { image: unknown }).image).toEqual({
      name: "alpine",
    });
  });
});
