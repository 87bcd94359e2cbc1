import { describe, expect, it } from "vitest";
import { listPipeline, planPipeline } from "../../../../src/pipeline/plan-pipeline.ts";
import { PipelineError } from "../../../../src/pipeline/pipeline-error.ts";
import type { PlanOptions } from "../../../../src/pipeline/plan.ts";
import { tempRepo } from "../helpers.ts";

const pipeline = `stages: [build, test, deploy]
variables:
  TAG: v-$CI_COMMIT_SHORT_SHA
.rules:
  rules:
    - if: $CI_COMMIT_BRANCH == "main"
      variables: { TARGET: prod }
    - when: manual
build:
  stage: build
  image: node:$TAG
  script: make
lint:
  stage: build
  needs: []
  allow_failure: { exit_codes: [3, 4] }
  script: lint
test:
  stage: test
  parallel: 2
  needs: [build]
  script: test
matrix:
  stage: test
  parallel:
    matrix:
      - DB: [pg, my]
  variables: { URL: "db://$DB" }
  script: test
deploy:
  extends: .rules
  stage: deploy
  needs: [build, { job: matrix, parallel: { matrix: [{ DB: pg }] } }]
  environment: { name: $TARGET }
  script: deploy
`;

async function both(
  yaml: string,
  options: Partial<PlanOptions> = {},
): Promise<{ full: unknown; listed: unknown }> {
  const repo = tempRepo({ ".gitlab-ci.yml": yaml });
  const planOptions: PlanOptions = {
    repoDir: repo.dir,
    file: ".gitlab-ci.yml",
    variables: {},
    branch: "main",
    ...options,
  };
  const outcome = async (plan: () => Promise<{ jobs: object[] }>): Promise<unknown> => {
    try {
      return (await plan()).jobs;
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      return error.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);
    }
  };
  try {
    return {
      full: await outcome(() => planPipeline(planOptions)),
      listed: await outcome(() => listPipeline(planOptions)),
    };
  } finally {
    repo.remove();
  }
}

const listedFields = (jobs: unknown): unknown =>
  (jobs as Array<Record<string, unknown>>).map(({ name, stage, when, allowFailure, needs }) => ({
    name,
    stage,
    when,
    allowFailure,
    needs,
  }));

describe("listPipeline", () => {
  it("lists the jobs planPipeline plans, with the same listed fields, for any branch", async () => {
    for (const branch of ["main", "feature"]) {
      const { full, listed } = await both(pipeline, { branch });
      expect(listedFields(listed)).toEqual(listedFields(full));
      expect((listed as unknown[]).length).toBe(7);
    }
  });

  it("makes none of the jobs' variables or expanded keywords", async () => {
    const { listed } = await both(pipeline);
    for (const job of listed as Array<Record<string, unknown>>) {
      expect(Object.keys(job)).not.toContain("variables");
      expect(Object.keys(job)).not.toContain("image");
      expect(Object.keys(job)).not.toContain("environment");
    }
  });

  it("reports every problem a full plan reports, at the same positions", async () => {
    const broken = `variables:
  A: $B
job:
  variables:
    B: $A
  script: x
later:
  rules: [{ when: delayed }]
  script: x
gone:
  rules: [{ when: never }]
  script: x
needy:
  needs: [gone]
  script: x
`;
    const { full, listed } = await both(broken);
    expect(full).toEqual([
      '3:1: job: circular variable reference detected: ["A", "B"]',
      "8:11: jobs:later start in should be a duration",
      "14:3: 'needy' job needs 'gone' job, but 'gone' does not exist in the pipeline. This might be because of the only, except, or rules keywords. To need a job that sometimes does not exist in the pipeline, use needs:optional.",
    ]);
    expect(listed).toEqual(full);
  });
});
