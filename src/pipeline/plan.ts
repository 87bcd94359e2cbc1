/**
 * The Plan: what the pipeline compiler hands to the local coordinator. Everything GitLab decides
 * at pipeline creation (includes, extends, rules, variables expanded at creation, parallel
 * expansion, needs) is already applied; nothing here needs the YAML any more.
 */

export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface Diagnostic extends SourcePosition {
  message: string;
  severity: "error" | "warning";
}

export interface PlanVariable {
  key: string;
  value: string;
  /** false: `expand: false` in YAML; the runner must not expand $VAR inside the value. */
  expand: boolean;
}

export type JobWhen = "on_success" | "on_failure" | "always" | "manual" | "delayed";

export type ArtifactsWhen = "on_success" | "on_failure" | "always";

export interface PlannedImage {
  name: string;
  entrypoint?: string[];
  pullPolicy?: string[];
  docker?: { platform?: string; user?: string };
}

export interface PlannedService extends PlannedImage {
  /** Several aliases may be given separated by commas, as in GitLab. */
  alias?: string;
  command?: string[];
  variables?: Record<string, string>;
}

export interface PlannedArtifacts {
  name?: string;
  paths: string[];
  exclude: string[];
  untracked: boolean;
  when: ArtifactsWhen;
  expireIn?: string;
  exposeAs?: string;
  public?: boolean;
  access?: string;
  /** Report type (junit, dotenv, …) → paths. */
  reports: Record<string, string[]>;
}

export interface PlannedCache {
  /** Literal key (expanded at creation) when `key` is a string; "default" when unset. */
  key: string;
  /** `key:files`: the runner computes the key from these files' last commits. */
  keyFiles?: string[];
  keyPrefix?: string;
  paths: string[];
  untracked: boolean;
  unprotect: boolean;
  policy: string;
  when: ArtifactsWhen;
  fallbackKeys: string[];
}

export interface PlannedEnvironment {
  name: string;
  url?: string;
  action?: string;
  onStop?: string;
  autoStopIn?: string;
  deploymentTier?: string;
  kubernetes?: unknown;
}

export interface PlannedNeed {
  job: string;
  artifacts: boolean;
  optional: boolean;
}

export interface PlannedRetry {
  max: number;
  when: string[];
  exitCodes: number[];
}

/** What a job runs and how: the same in the job model (after `extends`) and in the plan. */
export interface JobExecution {
  stage: string;
  when: JobWhen;
  startInSeconds?: number;
  retry: PlannedRetry;
  timeoutSeconds?: number;
  resourceGroup?: string;
  interruptible: boolean;
  image?: PlannedImage;
  services: PlannedService[];
  beforeScript: string[];
  script: string[];
  afterScript: string[];
  artifacts?: PlannedArtifacts;
  cache: PlannedCache[];
  environment?: PlannedEnvironment;
  tags: string[];
  coverage?: string;
  /** Trigger (bridge) jobs are recognised; local runs do not run them. */
  trigger?: unknown;
  /** Hooks such as `pre_get_sources_script`. */
  hooks?: Record<string, string[]>;
  position: SourcePosition;
}

export interface PlannedJob extends JobExecution {
  /** Concrete name, with the parallel suffix (`build 1/3`, `build: [linux, amd64]`). */
  name: string;
  /** Name as written in the YAML (without the parallel suffix). */
  baseName: string;
  stageIndex: number;
  allowFailure: boolean | { exitCodes: number[] };
  /** undefined = wait for all earlier stages; [] = start at once. */
  needs?: PlannedNeed[];
  /** undefined = artifacts of all jobs of earlier stages (or of the needs). */
  dependencies?: string[];
  /** Job-level, matrix and rule variables (GitLab's precedence), expanded as at creation. */
  variables: PlanVariable[];
  /** CI_* variables GitLab defines for this job (CI_JOB_NAME, CI_PIPELINE_ID, CI_NODE_INDEX, …). */
  predefinedVariables: PlanVariable[];
  parallel?: { index: number; total: number; matrix?: Record<string, string> };
}

export interface Plan {
  /** `workflow:name`, expanded. */
  name?: string;
  /** Stages in order, including `.pre` and `.post`. */
  stages: string[];
  jobs: PlannedJob[];
  /** Pipeline-level variables: predefined, global YAML, workflow:rules, then --variable ones. */
  variables: PlanVariable[];
  warnings: Diagnostic[];
}

export interface PlanOptions {
  repoDir: string;
  /** Pipeline file relative to repoDir (default `.gitlab-ci.yml`). */
  file: string;
  /** Pipeline variables (highest precedence): `--variable KEY=VALUE`. */
  variables: Record<string, string>;
  ref?: string;
  branch?: string;
  tag?: string;
  source?: string;
  /** CI_PIPELINE_ID (and IID); local runs allocate one that is unique on this machine. */
  pipelineId?: number;
  /** CI_REGISTRY as the executor provides it (default the compiler's `registry.pier.local`). */
  registry?: string;
  /** CI_REGISTRY_IMAGE (default `<registry>/<project path>` in lowercase). */
  registryImage?: string;
}
