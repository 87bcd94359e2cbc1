import { describe, expect, it } from "vitest";
import { NoPipelineError } from "../../../src/pipeline/pipeline-error.ts";
import { parseDuration } from "../../../src/pipeline/model/duration.ts";
import { jobNamed, jobNames, jobVariables, planErrors, planFrom } from "./helpers.ts";

describe("stages", () => {
  it("wraps stages with .pre and .post and defaults stage to test", async () => {
    const plan = await planFrom("a:\n  script: x\nb:\n  stage: .pre\n  script: x\n");
    expect(plan.stages).toEqual([".pre", "build", "test", "deploy", ".post"]);
    expect(jobNames(plan)).toEqual(["b", "a"]);
    expect(jobNamed(plan, "a").stage).toBe("test");
    expect(jobNamed(plan, "a").stageIndex).toBe(plan.stages.indexOf("test"));
  });

  it("flattens nested stage lists and reports an undefined stage", async () => {
    const plan = await planFrom("stages: [[a, b], c]\nj:\n  stage: c\n  script: x\n");
    expect(plan.stages).toEqual([".pre", "a", "b", "c", ".post"]);
    expect(await planErrors("stages: [build]\nj:\n  script: x\n")).toEqual([
      "2:1: j job: chosen stage test does not exist; available stages are .pre, build, .post",
    ]);
  });

  it("creates no pipeline when only .pre/.post jobs remain", async () => {
    await expect(planFrom("p:\n  stage: .pre\n  script: x\n")).rejects.toThrow(NoPipelineError);
  });
});

describe("rules and workflow", () => {
  it("first match wins; no match or when: never drops the job", async () => {
    const plan = await planFrom(
      `a:
  script: x
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      when: manual
    - when: always
b:
  script: x
  rules:
    - if: $NOPE
c:
  script: x
  rules:
    - when: never
`,
      { branch: "main" },
    );
    expect(jobNames(plan)).toEqual(["a"]);
    expect(jobNamed(plan, "a").when).toBe("manual");
  });

  it("manual allow_failure: true at job level, false from rules unless said", async () => {
    const plan = await planFrom(`
job-manual:
  script: x
  when: manual
rule-manual:
  script: x
  rules:
    - when: manual
rule-manual-allowed:
  script: x
  rules:
    - when: manual
      allow_failure: true
inherited-manual:
  script: x
  when: manual
  rules:
    - if: $CI
exit-codes:
  script: x
  allow_failure: {exit_codes: [3, 4]}
`);
    expect(jobNamed(plan, "job-manual").allowFailure).toBe(true);
    expect(jobNamed(plan, "rule-manual").allowFailure).toBe(false);
    expect(jobNamed(plan, "rule-manual-allowed").allowFailure).toBe(true);
    expect(jobNamed(plan, "inherited-manual")).toMatchObject({
      when: "manual",
      allowFailure: true,
    });
    expect(jobNamed(plan, "exit-codes").allowFailure).toEqual({ exitCodes: [3, 4] });
  });

  it("rules:variables override job variables; rules:needs replace needs", async () => {
    const plan = await planFrom(`
build:
  stage: build
  script: x
lint:
  stage: build
  script: x
job:
  script: x
  needs: [build]
  variables: {DEPLOY: "no", KEEP: k}
  rules:
    - if: $CI
      variables: {DEPLOY: "yes"}
      needs: [lint]
`);
    expect(jobVariables(plan, "job")).toEqual({ DEPLOY: "yes", KEEP: "k" });
    expect(jobNamed(plan, "job").needs).toEqual([
      { job: "lint", artifacts: true, optional: false },
    ]);
  });

  it("workflow:rules filter the pipeline and set variables", async () => {
    const yaml = `workflow:
  name: Pipeline for $CI_COMMIT_BRANCH ($DEPLOY)
  rules:
    - if: $CI_COMMIT_TAG
      when: never
    - if: $CI_COMMIT_BRANCH == "main"
      variables: {DEPLOY: "prod"}
    - when: always
variables: {DEPLOY: dev}
job:
  script: x
`;
    const plan = await planFrom(yaml, { branch: "main" });
    expect(plan.name).toBe("Pipeline for main (prod)");
    expect(jobVariables(plan, "job")["DEPLOY"]).toBe("prod");
    await expect(planFrom(yaml, { tag: "v1" })).rejects.toThrow(
      "Pipeline filtered out by workflow rules.",
    );
  });

  it("rejects rules mixed with only/except and invalid expressions", async () => {
    const errors = await planErrors(`
job:
  script: x
  only: [main]
  rules:
    - if: $A == "x" &&
`);
    expect(errors.join("\n")).toContain("jobs:job config key may not be used with `rules`: only");
    expect(errors.join("\n")).toContain("jobs:job:rules:rule if invalid expression syntax");
  });

  it("applies only/except and the implicit only: [branches, tags]", async () => {
    const yaml = `a:
  script: x
  only: [main]
b:
  script: x
  except: [main]
c:
  script: x
`;
    expect(jobNames(await planFrom(yaml, { branch: "main" }))).toEqual(["a", "c"]);
    expect(jobNames(await planFrom(yaml, { branch: "feature" }))).toEqual(["b", "c"]);
    await expect(
      planFrom(yaml, { branch: "feature", source: "merge_request_event" }),
    ).rejects.toThrow(NoPipelineError);
  });
});

describe("needs and dependencies", () => {
  it("accepts needs in the same or an earlier stage, needs: [], artifacts: false and optional", async () => {
    const plan = await planFrom(`
a:
  stage: build
  script: x
b:
  stage: build
  script: x
  needs: [a]
c:
  script: x
  needs: [{job: a, artifacts: false}, {job: gone, optional: true}]
d:
  script: x
  needs: []
gone:
  script: x
  rules: [{if: $NOPE}]
`);
    expect(jobNamed(plan, "b").needs).toEqual([{ job: "a", artifacts: true, optional: false }]);
    expect(jobNamed(plan, "c").needs).toEqual([{ job: "a", artifacts: false, optional: false }]);
    expect(jobNamed(plan, "d").needs).toEqual([]);
    expect(jobNamed(plan, "a").needs).toBeUndefined();
  });

  it("reports undefined, later-stage, filtered-out, duplicated and circular needs", async () => {
    const errors = (
      await planErrors(`
a:
  stage: build
  script: x
  needs: [later, missing]
later:
  stage: deploy
  script: x
x:
  script: x
  needs: [y, a, a]
y:
  script: x
  needs: [x]
`)
    ).join("\n");
    expect(errors).toContain("a job: need later is not defined in current or prior stages");
    expect(errors).toContain("a job: undefined need: missing");
    expect(errors).toContain("x has the following needs duplicated: a.");
    const cycle = await planErrors(
      "x:\n  script: x\n  needs: [y]\ny:\n  script: x\n  needs: [x]\n",
    );
    expect(cycle.join("\n")).toContain("The pipeline has circular dependencies");
    const filtered = await planErrors(
      "a:\n  script: x\n  rules: [{if: $NOPE}]\nb:\n  script: x\n  needs: [a]\n",
    );
    expect(filtered.join("\n")).toContain(
      "'b' job needs 'a' job, but 'a' does not exist in the pipeline.",
    );
  });

  it("limits needs to 50", async () => {
    const jobs = Array.from({ length: 51 }, (_, i) => `j${i}:\n  stage: build\n  script: x\n`).join(
      "",
    );
    const errors = await planErrors(
      `${jobs}big:\n  script: x\n  needs: [${Array.from({ length: 51 }, (_, i) => `j${i}`).join(", ")}]\n`,
    );
    expect(errors.join("\n")).toContain(
      "big: one job can only need 50 others, but you have listed 51",
    );
  });

  it("fans in needs on parallel jobs and picks one matrix combination", async () => {
    const plan = await planFrom(`
build:
  stage: build
  script: x
  parallel:
    matrix:
      - PROVIDER: [aws, gcp]
        STACK: [app]
all:
  script: x
  needs: [build]
one:
  script: x
  needs:
    - job: build
      parallel:
        matrix:
          - PROVIDER: gcp
            STACK: app
deps:
  script: x
  dependencies: [build]
`);
    expect(jobNamed(plan, "all").needs?.map((n) => n.job)).toEqual([
      "build: [aws, app]",
      "build: [gcp, app]",
    ]);
    expect(jobNamed(plan, "one").needs?.map((n) => n.job)).toEqual(["build: [gcp, app]"]);
    expect(jobNamed(plan, "deps").dependencies).toEqual(["build: [aws, app]", "build: [gcp, app]"]);
  });
});

describe("parallel", () => {
  it("names parallel: N jobs `name i/N`", async () => {
    const plan = await planFrom("test:\n  script: x\n  parallel: 3\n");
    expect(jobNames(plan)).toEqual(["test 1/3", "test 2/3", "test 3/3"]);
    expect(jobNamed(plan, "test 2/3").parallel).toEqual({ index: 2, total: 3 });
  });

  it("expands matrices in GitLab's order and names (normalizer spec example)", async () => {
    const plan = await planFrom(`
test:
  script: x
  parallel:
    matrix:
      - PROVIDER: aws
        STACK: [app1, app2]
      - PROVIDER: [ovh, gcp]
        STACK: [app]
`);
    expect(jobNames(plan)).toEqual([
      "test: [aws, app1]",
      "test: [aws, app2]",
      "test: [ovh, app]",
      "test: [gcp, app]",
    ]);
    expect(jobNamed(plan, "test: [ovh, app]").parallel).toEqual({
      index: 3,
      total: 4,
      matrix: { PROVIDER: "ovh", STACK: "app" },
    });
    expect(jobVariables(plan, "test: [gcp, app]")).toEqual({ PROVIDER: "gcp", STACK: "app" });
  });

  it("evaluates rules per matrix instance", async () => {
    const plan = await planFrom(`
deploy:
  script: x
  parallel:
    matrix:
      - ENV: [dev, prod]
  rules:
    - if: $ENV == "prod"
      when: manual
    - when: on_success
`);
    expect(plan.jobs.map((j) => [j.name, j.when])).toEqual([
      ["deploy: [dev]", "on_success"],
      ["deploy: [prod]", "manual"],
    ]);
  });

  it("rejects more than 200 combinations", async () => {
    const values = Array.from({ length: 15 }, (_, i) => `v${i}`).join(", ");
    const errors = await planErrors(
      `job:\n  script: x\n  parallel:\n    matrix:\n      - A: [${values}]\n        B: [${values}]\n`,
    );
    expect(errors.join("\n")).toContain("generates too many jobs (maximum is 200)");
  });
});

describe("job keywords", () => {
  it("normalises retry, timeout, delayed, images, services, cache, artifacts, environment", async () => {
    const plan = await planFrom(`
variables: {REGISTRY: reg.example, BRANCH_KEY: k}
job:
  script: [[a, [b]], c]
  retry: {max: 2, when: [script_failure], exit_codes: 137}
  timeout: 1h 30m
  when: delayed
  start_in: 30 minutes
  image: {name: "$REGISTRY/app:1", entrypoint: [""], pull_policy: if-not-present}
  services:
    - postgres:15
    - name: $REGISTRY/redis
      alias: cache,redis
      command: [redis-server]
      variables: {X: "1"}
  cache:
    - key: $BRANCH_KEY-deps
      paths: [node_modules/]
      policy: pull
    - key: {files: [package-lock.json], prefix: $BRANCH_KEY}
      paths: [.npm/]
      fallback_keys: [main]
  artifacts:
    name: "$BRANCH_KEY-out"
    paths: [dist/$BRANCH_KEY]
    when: always
    expire_in: 1 week
    reports: {junit: report.xml}
  environment: {name: review/$BRANCH_KEY, url: "https://$BRANCH_KEY.example"}
  resource_group: deploy-$BRANCH_KEY
  interruptible: true
  tags: [docker, $BRANCH_KEY]
  coverage: /Total.*?(\\d+)%/
bridge:
  trigger: {include: child.yml}
`);
    const built = jobNamed(plan, "job");
    expect(built.script).toEqual(["a", "b", "c"]);
    expect(built.retry).toEqual({ max: 2, when: ["script_failure"], exitCodes: [137] });
    expect(built.timeoutSeconds).toBe(5400);
    expect(built).toMatchObject({ when: "delayed", startInSeconds: 1800 });
    expect(built.image).toEqual({
      name: "reg.example/app:1",
      entrypoint: [""],
      pullPolicy: ["if-not-present"],
    });
    expect(built.services).toEqual([
      { name: "postgres:15" },
      {
        name: "reg.example/redis",
        alias: "cache,redis",
        command: ["redis-server"],
        variables: { X: "1" },
      },
    ]);
    expect(built.cache[0]).toMatchObject({
      key: "k-deps",
      policy: "pull",
      paths: ["node_modules/"],
    });
    expect(built.cache[1]).toMatchObject({
      keyFiles: ["package-lock.json"],
      keyPrefix: "k",
      fallbackKeys: ["main"],
    });
    expect(built.artifacts).toMatchObject({
      name: "k-out",
      paths: ["dist/k"],
      when: "always",
      expireIn: "1 week",
    });
    expect(built.artifacts?.reports).toEqual({ junit: ["report.xml"] });
    expect(built.environment).toEqual({ name: "review/k", url: "https://k.example" });
    expect(built.resourceGroup).toBe("deploy-k");
    expect(built.tags).toEqual(["docker", "k"]);
    expect(built.interruptible).toBe(true);
    expect(jobNamed(plan, "bridge").trigger).toEqual({ include: "child.yml" });
  });

  it("parses GitLab durations", () => {
    expect(parseDuration("3600")).toBe(3600);
    expect(parseDuration("1h 30m")).toBe(5400);
    expect(parseDuration("90 minutes")).toBe(5400);
    expect(parseDuration("1 hour and 5 mins")).toBe(3900);
    expect(parseDuration("3 mins 4 sec")).toBe(184);
    expect(parseDuration("2 days")).toBe(172800);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("1 fortnight")).toBeUndefined();
  });
});

describe("variables", () => {
  it("applies precedence (--variable > job > global) and expands as at creation", async () => {
    const plan = await planFrom(
      `variables:
  GLOBAL: global
  BASE: "$GLOBAL/base"
  RAW: {value: "$GLOBAL", expand: false}
  DESCRIBED: {value: "a", description: "pick one", options: [a, b]}
job:
  script: x
  variables:
    JOB: "$BASE/job"
    GLOBAL: job-global
    ESCAPED: "$$HOME"
    UNKNOWN: "$NOT_DEFINED"
`,
      { variables: { GLOBAL: "cli" } },
    );
    expect(jobVariables(plan, "job")).toEqual({
      GLOBAL: "cli",
      BASE: "cli/base",
      RAW: "$GLOBAL",
      DESCRIBED: "a",
      JOB: "cli/base/job",
      ESCAPED: "$$HOME",
      UNKNOWN: "$NOT_DEFINED",
    });
    expect(jobNamed(plan, "job").variables.find((v) => v.key === "RAW")?.expand).toBe(false);
    expect(plan.variables.find((v) => v.key === "CI_COMMIT_BRANCH")?.value).toBe("main");
  });

  it("rejects booleans as variable values and reports reference cycles", async () => {
    expect(await planErrors("variables:\n  FLAG: true\njob:\n  script: x\n")).toEqual([
      "2:3: variables config should be a hash of key value pairs",
    ]);
    const cycle = await planErrors('job:\n  script: x\n  variables: {A: "$B", B: "$A"}\n');
    expect(cycle.join("\n")).toMatch(/circular/);
  });
});

describe("validation", () => {
  it("reports every problem at once with positions", async () => {
    const errors = await planErrors(`
build:
  scirpt: make
  stage: build
test:
  script: 42
  when: sometimes
  timeout: forever
  retry: 5
notajob: 3
`);
    expect(errors).toEqual([
      "2:1: jobs build config should implement the script:, run:, or trigger: keyword",
      "3:3: jobs:build config contains unknown keys: scirpt",
      "6:3: jobs:test:script config should be a string or a nested array of strings up to 10 levels deep",
      "7:3: jobs:test when should be one of: on_success, on_failure, always, manual, delayed",
      "8:3: jobs:test timeout should be a duration",
      "9:3: jobs:test:retry config must be an integer between 0 and 2 (max)",
      "10:1: jobs notajob config should implement the script:, run:, or trigger: keyword",
    ]);
  });

  it("reports empty files, non-mapping roots and files without visible jobs", async () => {
    expect(await planErrors("")).toEqual(["1:1: Please provide content of .gitlab-ci.yml"]);
    expect(await planErrors("- a\n- b\n")).toEqual(["1:1: Invalid configuration format"]);
    expect(await planErrors(".hidden:\n  script: x\n")).toEqual([
      "1:1: jobs config should contain at least one visible job",
    ]);
  });
});
