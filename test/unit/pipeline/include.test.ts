import { describe, expect, it } from "vitest";
import { jobNamed, jobNames, jobVariables, planErrors, planFrom } from "./helpers.ts";

describe("include", () => {
  it("merges local files first, the including file on top, nested includes depth-first", async () => {
    const plan = await planFrom(
      `include:
  - ci/a.yml
  - local: /ci/b.yml
variables: {WHO: main}
job:
  script: main
`,
      {
        files: {
          "ci/a.yml": "include: ci/nested.yml\nvariables: {WHO: a, A: a}\n.t:\n  tags: [a]\n",
          "ci/nested.yml": "variables: {N: nested, WHO: nested}\nother:\n  script: other\n",
          "ci/b.yml": "variables: {B: b, WHO: b}\njob:\n  script: from-b\n  tags: [b]\n",
        },
      },
    );
    expect(jobNames(plan).sort()).toEqual(["job", "other"]);
    const job = jobNamed(plan, "job");
    expect(job.script).toEqual(["main"]);
    expect(job.tags).toEqual(["b"]);
    expect(jobVariables(plan, "job")).toMatchObject({
      WHO: "main",
      A: "a",
      B: "b",
      N: "nested",
    });
  });

  it("expands globs: * stays in one directory, ** crosses directories", async () => {
    const files = {
      "configs/a.yml": "a:\n  script: a\n",
      "configs/sub/b.yml": "b:\n  script: b\n",
    };
    const one = await planFrom("include: 'configs/*.yml'\n", { files });
    expect(jobNames(one)).toEqual(["a"]);
    const all = await planFrom("include: 'configs/**.yml'\n", { files });
    expect(jobNames(all).sort()).toEqual(["a", "b"]);
  });

  it("reports missing files, cycles and unavailable remote kinds clearly", async () => {
    expect(await planErrors("include: missing.yml\njob:\n  script: x\n")).toEqual([
      "1:1: Local file `missing.yml` does not exist!",
    ]);
    const cycle = await planErrors("include: a.yml\njob:\n  script: x\n", {
      files: { "a.yml": "include: b.yml\n", "b.yml": "include: a.yml\n" },
    });
    expect(cycle.join("\n")).toMatch(/Include cycle detected: .*a\.yml → b\.yml → a\.yml/);
    const remote = await planErrors(
      "include:\n  - template: Auto-DevOps.gitlab-ci.yml\n  - project: g/p\n    file: x.yml\n  - component: gitlab.com/g/c/build@1.0\njob:\n  script: x\n",
    );
    expect(remote).toHaveLength(3);
    expect(remote.join("\n")).toContain(
      "Template `Auto-DevOps.gitlab-ci.yml` is not available locally",
    );
  });

  it("reports an unreachable remote include without hanging", async () => {
    const errors = await planErrors("include: 'http://127.0.0.1:9/ci.yml'\njob:\n  script: x\n");
    expect(errors.join("\n")).toMatch(
      /Remote file `http:\/\/127\.0\.0\.1:9\/ci\.yml` could not be fetched/,
    );
  });

  it("applies include:rules", async () => {
    const yaml = `include:
  - local: extra.yml
    rules:
      - if: $WITH_EXTRA == "yes"
job:
  script: x
`;
    const files = { "extra.yml": "extra:\n  script: e\n" };
    expect(jobNames(await planFrom(yaml, { files }))).toEqual(["job"]);
    expect(jobNames(await planFrom(yaml, { files, variables: { WITH_EXTRA: "yes" } }))).toEqual([
      "extra",
      "job",
    ]);
  });
});

describe("include:inputs and spec:inputs", () => {
  const template = `spec:
  inputs:
    stage:
      default: test
    job-name: {}
    replicas:
      type: number
      default: 1
    verbose:
      type: boolean
      default: false
    env:
      options: [dev, prod]
      default: dev
    tag:
      regex: ^v\\d+$
      default: v1
---
"$[[ inputs.job-name ]]":
  stage: $[[ inputs.stage ]]
  script: echo $[[ inputs.env ]] $[[ inputs.tag | truncate(0,1) ]]
  parallel: $[[ inputs.replicas ]]
  variables:
    VERBOSE: "v=$[[ inputs.verbose ]]"
`;

  it("interpolates inputs with defaults, keeping types for whole values", async () => {
    const plan = await planFrom(
      "include:\n  - local: t.yml\n    inputs:\n      job-name: deploy\n      replicas: 2\n      env: prod\n",
      { files: { "t.yml": template } },
    );
    expect(jobNames(plan)).toEqual(["deploy 1/2", "deploy 2/2"]);
    expect(plan.jobs[0]?.script).toEqual(["echo prod v"]);
    expect(plan.jobs[0]?.variables).toEqual([{ key: "VERBOSE", value: "v=false", expand: true }]);
  });

  it("reports missing, mistyped, out-of-options and non-matching inputs", async () => {
    const errors = await planErrors(
      "include:\n  - local: t.yml\n    inputs:\n      replicas: two\n      env: staging\n      tag: x1\n      bogus: 1\n",
      { files: { "t.yml": template } },
    );
    const text = errors.join("\n");
    expect(text).toContain("`job-name` input: required value has not been provided");
    expect(text).toContain("`replicas` input: provided value is not a number");
    expect(text).toContain(
      "`env` input: `staging` cannot be used because it is not in the list of allowed options",
    );
    expect(text).toContain(
      "`tag` input: provided value does not match required RE2 regular expression",
    );
    expect(text).toContain("unknown input arguments: bogus");
  });

  it("reports unknown interpolation keys", async () => {
    const errors = await planErrors("include:\n  - local: t.yml\n", {
      files: { "t.yml": "spec:\n  inputs: {}\n---\njob:\n  script: echo $[[ inputs.nope ]]\n" },
    });
    expect(errors.join("\n")).toContain("unknown interpolation key: `nope`");
  });
});
