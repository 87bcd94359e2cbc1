/**
 * JobSpec: one job as an executor sees it. It has the shape of GitLab's job payload (the 201
 * body of `POST /api/v4/jobs/request`), so local mode and runner mode feed executors the same
 * thing. Field names follow GitLab's JSON, hence the snake_case.
 */

export interface JobVariable {
  key: string;
  value: string;
  /** false: a secret; not passed to service containers. */
  public: boolean;
  /** Redact the value as [MASKED] in the trace. */
  masked: boolean;
  /** Write the value to a file and set the variable to that file's path. */
  file: boolean;
  /** Do not expand $VAR references inside the value. */
  raw: boolean;
}

export type StepWhen = "on_success" | "on_failure" | "always";

export interface JobStep {
  /** "script" (before_script + script) or "after_script" (or "release"). */
  name: string;
  script: string[];
  /** Seconds. */
  timeout: number;
  when: StepWhen;
  allow_failure: boolean;
}

export type PullPolicy = "always" | "if-not-present" | "never";

export interface JobImage {
  name: string;
  entrypoint?: string[];
  pull_policy?: PullPolicy[];
  executor_opts?: { docker?: { platform?: string; user?: string } };
}

export interface JobService extends JobImage {
  /** Several aliases separated by commas or spaces, as GitLab sends them. */
  alias?: string;
  command?: string[];
  variables?: JobVariable[];
}

export type ArtifactWhen = "on_success" | "on_failure" | "always";

export interface JobArtifact {
  name?: string;
  untracked: boolean;
  paths: string[];
  exclude?: string[];
  when: ArtifactWhen;
  /** "archive" for the browsable archive, else the report type (junit, dotenv, …). */
  artifact_type: string;
  artifact_format: "zip" | "gzip" | "raw";
  expire_in?: string;
}

export type CachePolicy = "pull" | "push" | "pull-push";

export interface JobCache {
  key: string;
  untracked: boolean;
  policy: CachePolicy;
  paths: string[];
  when: ArtifactWhen;
  fallback_keys?: string[];
}

export interface JobDependency {
  id: number;
  name: string;
  token: string;
  artifacts_file?: { filename: string; size: number };
}

export interface JobGitInfo {
  repo_url: string;
  ref: string;
  sha: string;
  before_sha: string;
  ref_type: "branch" | "tag";
  refspecs: string[];
  /** 0 means a full clone. */
  depth: number;
  protected?: boolean;
}

export interface JobInfo {
  name: string;
  stage: string;
  pipeline_id: number;
  project_id: number;
  project_name: string;
  project_full_path: string;
}

export interface JobSpec {
  id: number;
  token: string;
  allow_git_fetch: boolean;
  job_info: JobInfo;
  git_info: JobGitInfo;
  /** Job timeout in seconds. */
  runner_info: { timeout: number };
  variables: JobVariable[];
  steps: JobStep[];
  image?: JobImage;
  services: JobService[];
  artifacts: JobArtifact[];
  cache: JobCache[];
  dependencies: JobDependency[];
  credentials?: { type: "registry"; url: string; username: string; password: string }[];
  hooks?: { name: string; script: string[] }[];
}
