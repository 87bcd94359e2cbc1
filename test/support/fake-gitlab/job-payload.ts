import { randomBytes } from "node:crypto";
import type {
  JobArtifact,
  JobCache,
  JobDependency,
  JobSpec,
  JobVariable,
} from "../../../src/job/spec.ts";

export interface JobRequestOptions {
  name?: string;
  script: string[];
  afterScript?: string[];
  variables?: Partial<JobVariable>[];
  timeoutSeconds?: number;
  artifacts?: JobArtifact[];
  cache?: JobCache[];
  /** Earlier jobs whose artifacts this one receives (see FakeGitLab.dependencyOn). */
  dependencies?: JobDependency[];
}

/** The failure reasons a current GitLab lists in `features.failure_reasons`. */
export const GITLAB_FAILURE_REASONS = [
  "unknown_failure",
  "script_failure",
  "api_failure",
  "stuck_or_timeout_failure",
  "runner_system_failure",
  "missing_dependency_failure",
  "runner_unsupported",
  "stale_schedule",
  "job_execution_timeout",
  "archived_failure",
  "unmet_prerequisites",
  "scheduler_failure",
  "data_integrity_failure",
  "forward_deployment_failure",
  "user_blocked",
  "project_deleted",
  "insufficient_bridge_permissions",
  "downstream_bridge_project_not_found",
  "invalid_bridge_trigger",
  "bridge_pipeline_is_child_pipeline",
  "downstream_pipeline_creation_failed",
  "secrets_provider_not_found",
  "reached_max_descendant_pipelines_depth",
  "ip_restriction_failure",
  "failed_outdated_deployment_job",
  "image_pull_failure",
];

function variable(key: string, value: string, flags: Partial<JobVariable> = {}): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw: false, ...flags };
}

/**
 * A job as GitLab hands it out (the 201 body of `POST /jobs/request`), with the fields and
 * predefined variables GitLab really sends, for a project served by the fake at `baseUrl`.
 */
export function jobPayload(
  o: JobRequestOptions & {
    id: number;
    baseUrl: string;
    projectPath: string;
    sha: string;
    ref: string;
  },
): JobSpec & { features: Record<string, unknown>; job_info: Record<string, unknown> } {
  const token = `glcbt-64_${randomBytes(10).toString("hex")}`;
  const server = new URL(o.baseUrl);
  const repoUrl = `${server.protocol}//gitlab-ci-token:${token}@${server.host}/${o.projectPath}.git`;
  const projectName = o.projectPath.split("/").at(-1) ?? "project";
  const timeout = o.timeoutSeconds ?? 3600;
  const predefined = [
    variable("CI_PIPELINE_ID", "77"),
    variable("CI_JOB_ID", String(o.id)),
    variable("CI_JOB_NAME", o.name ?? "test"),
    variable("CI_JOB_STAGE", "test"),
    variable("CI_JOB_TOKEN", token, { public: false, masked: true }),
    variable("CI_BUILD_TOKEN", token, { public: false, masked: true }),
    variable("CI_SERVER_URL", o.baseUrl.replace(/\/$/, "")),
    variable("CI_PROJECT_ID", "123"),
    variable("CI_PROJECT_NAME", projectName),
    variable("CI_PROJECT_PATH", o.projectPath),
    variable("CI_REPOSITORY_URL", repoUrl, { public: false }),
    variable("CI_COMMIT_SHA", o.sha),
    variable("CI_COMMIT_REF_NAME", o.ref),
    variable("CI_COMMIT_BRANCH", o.ref),
  ];
  const user = (o.variables ?? []).map((item) =>
    variable(item.key ?? "", item.value ?? "", { public: false, ...item }),
  );
  return {
    id: o.id,
    token,
    allow_git_fetch: true,
    job_info: {
      id: o.id,
      name: o.name ?? "test",
      stage: "test",
      pipeline_id: 77,
      project_id: 123,
      project_name: projectName,
      project_full_path: o.projectPath,
      namespace_id: 5,
      root_namespace_id: 1,
      time_in_queue_seconds: 0.1,
      project_jobs_running_on_instance_runners_count: "0",
      queue_size: 0,
      queue_depth: 0,
    },
    git_info: {
      repo_url: repoUrl,
      ref: o.ref,
      sha: o.sha,
      before_sha: "0000000000000000000000000000000000000000",
      ref_type: "branch",
      refspecs: [`+refs/heads/${o.ref}:refs/remotes/origin/${o.ref}`, "+refs/tags/*:refs/tags/*"],
      depth: 20,
      protected: false,
    },
    runner_info: { timeout },
    variables: [...predefined, ...user],
    steps: [
      {
        name: "script",
        script: o.script,
        timeout,
        when: "on_success",
        allow_failure: false,
      },
      ...(o.afterScript === undefined
        ? []
        : [
            {
              name: "after_script",
              script: o.afterScript,
              timeout,
              when: "always" as const,
              allow_failure: true,
            },
          ]),
    ],
    services: [],
    artifacts: o.artifacts ?? [],
    cache: o.cache ?? [],
    dependencies: o.dependencies ?? [],
    credentials: [],
    features: {
      trace_sections: true,
      token_mask_prefixes: ["glpat-", "glcbt-", "glrt-"],
      failure_reasons: GITLAB_FAILURE_REASONS,
    },
  };
}
