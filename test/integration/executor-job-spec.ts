import type { JobSpec, JobVariable } from "../../src/job/spec.ts";

export function jobVariable(
  key: string,
  value: string,
  flags: Partial<JobVariable> = {},
): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw: false, ...flags };
}

/**
 * A job of `group/project` for the executors' tests: `script` (and `afterScript`), no checkout
 * unless `variables` say otherwise; `extra` replaces whole fields (id, image, artifacts, …).
 */
export function executorJobSpec(
  o: {
    script: string[];
    afterScript?: string[];
    variables?: JobVariable[];
    timeoutSeconds?: number;
    sha?: string;
    pipelineId?: number;
  },
  extra: Partial<JobSpec> = {},
): JobSpec {
  const timeout = o.timeoutSeconds ?? 60;
  const step = (name: string, script: string[]): JobSpec["steps"][number] => ({
    name,
    script,
    timeout,
    when: "on_success",
    allow_failure: false,
  });
  return {
    id: 1,
    token: "token",
    allow_git_fetch: false,
    job_info: {
      name: "test-job",
      stage: "test",
      pipeline_id: o.pipelineId ?? 1,
      project_id: 1,
      project_name: "project",
      project_full_path: "group/project",
    },
    git_info: {
      repo_url: "",
      ref: "main",
      sha: o.sha ?? "0".repeat(40),
      before_sha: "0".repeat(40),
      ref_type: "branch",
      refspecs: [],
      depth: 0,
    },
    runner_info: { timeout },
    variables: o.variables ?? [jobVariable("GIT_STRATEGY", "none")],
    steps: [
      step("script", o.script),
      ...(o.afterScript === undefined ? [] : [step("after_script", o.afterScript)]),
    ],
    services: [],
    artifacts: [],
    cache: [],
    dependencies: [],
    ...extra,
  };
}
