import type {
  Plan,
  PlannedCache,
  PlannedImage,
  PlannedJob,
  PlanVariable,
} from "../pipeline/plan.ts";
import type {
  JobArtifact,
  JobCache,
  JobDependency,
  JobImage,
  JobService,
  JobSpec,
  JobVariable,
  PullPolicy,
} from "./spec.ts";

/** A project CI/CD variable (what GitLab keeps in a project's settings). */
export interface ProjectVariable {
  key: string;
  value: string;
  masked: boolean;
  file: boolean;
  raw: boolean;
  protected: boolean;
}

export interface JobSpecInput {
  plan: Plan;
  job: PlannedJob;
  pipelineId: number;
  /** Unique within the run; also the job's CI_JOB_ID. */
  jobId: number;
  /** The job's token; masked in the log. */
  token: string;
  /** The job's dependencies (artifacts to download), already resolved to job ids. */
  dependencies: JobDependency[];
  /** Variables from `artifacts:reports:dotenv` of the jobs this one depends on. */
  dotenv: Record<string, string>;
  projectVariables: readonly ProjectVariable[];
  /** `--variable KEY=VALUE`: pipeline variables, the highest precedence. */
  pipelineVariables: Record<string, string>;
  /** Seconds; used when the job sets no timeout (a runner's or project's default). */
  defaultTimeoutSeconds: number;
}

const DEFAULT_JOB_TIMEOUT_SECONDS = 3600;
const AFTER_SCRIPT_TIMEOUT_SECONDS = 300;

function publicVariable(key: string, value: string, raw = false): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw };
}

function fromPlanVariable(variable: PlanVariable): JobVariable {
  return publicVariable(variable.key, variable.value, !variable.expand);
}

/**
 * Builds the JobSpec GitLab would send a runner for this planned job. Variables are listed
 * from the lowest to the highest precedence (later duplicates win, as in the payload):
 * predefined and global YAML, job YAML (with rules and matrix), dotenv reports, project
 * variables, then pipeline variables.
 */
export function jobSpecFromPlan(input: JobSpecInput): JobSpec {
  const { plan, job } = input;
  const pipeline = new Map(plan.variables.map((variable) => [variable.key, variable.value]));
  const read = (key: string, fallback = ""): string => pipeline.get(key) ?? fallback;
  const timeout = job.timeoutSeconds ?? input.defaultTimeoutSeconds ?? DEFAULT_JOB_TIMEOUT_SECONDS;
  const tag = read("CI_COMMIT_TAG");

  const variables: JobVariable[] = [
    ...plan.variables.map(fromPlanVariable),
    ...job.predefinedVariables.map(fromPlanVariable),
    // What the runner knows only when the job starts (a retry is a new job with a new id).
    publicVariable("CI_JOB_ID", String(input.jobId)),
    {
      key: "CI_JOB_TOKEN",
      value: input.token,
      public: false,
      masked: true,
      file: false,
      raw: true,
    },
    publicVariable("CI_JOB_STARTED_AT", new Date().toISOString().replace(/\.\d+Z$/, "Z")),
    publicVariable("CI_JOB_TIMEOUT", String(timeout)),
    ...(job.image === undefined ? [] : [publicVariable("CI_JOB_IMAGE", job.image.name)]),
    ...job.variables.map(fromPlanVariable),
    ...Object.entries(input.dotenv).map(([key, value]) => publicVariable(key, value)),
    ...input.projectVariables.map((variable) => ({
      key: variable.key,
      value: variable.value,
      public: false,
      masked: variable.masked,
      file: variable.file,
      raw: variable.raw,
    })),
    ...Object.entries(input.pipelineVariables).map(([key, value]) => publicVariable(key, value)),
  ];

  return {
    id: input.jobId,
    token: input.token,
    allow_git_fetch: true,
    job_info: {
      name: job.name,
      stage: job.stage,
      pipeline_id: input.pipelineId,
      project_id: Number(read("CI_PROJECT_ID", "0")),
      project_name: read("CI_PROJECT_NAME"),
      project_full_path: read("CI_PROJECT_PATH"),
    },
    git_info: {
      repo_url: read("CI_REPOSITORY_URL", read("CI_PROJECT_URL")),
      ref: read("CI_COMMIT_REF_NAME"),
      sha: read("CI_COMMIT_SHA"),
      before_sha: read("CI_COMMIT_BEFORE_SHA", "0000000000000000000000000000000000000000"),
      ref_type: tag === "" ? "branch" : "tag",
      refspecs: [],
      depth: 0,
    },
    runner_info: { timeout },
    variables,
    steps: [
      {
        name: "script",
        script: [...job.beforeScript, ...job.script],
        timeout,
        when: "on_success",
        allow_failure: false,
      },
      ...(job.afterScript.length === 0
        ? []
        : [
            {
              name: "after_script",
              script: job.afterScript,
              timeout: AFTER_SCRIPT_TIMEOUT_SECONDS,
              when: "always" as const,
              allow_failure: true,
            },
          ]),
    ],
    ...(job.image === undefined
      ? {}
      : {
          image: {
            name: job.image.name,
            ...(job.image.entrypoint ? { entrypoint: job.image.entrypoint } : {}),
            ...pullPolicy(job.image.pullPolicy),
            ...executorOptions(job.image.docker),
          },
        }),
    services: job.services.map((service): JobService => ({
      name: service.name,
      ...(service.alias === undefined ? {} : { alias: service.alias }),
      ...(service.entrypoint ? { entrypoint: service.entrypoint } : {}),
      ...(service.command ? { command: service.command } : {}),
      ...pullPolicy(service.pullPolicy),
      ...executorOptions(service.docker),
      ...(service.variables
        ? {
            variables: Object.entries(service.variables).map(([key, value]) =>
              publicVariable(key, value),
            ),
          }
        : {}),
    })),
    artifacts: artifactsOf(job),
    cache: job.cache.map(cacheOf),
    dependencies: input.dependencies,
    ...(job.hooks === undefined
      ? {}
      : { hooks: Object.entries(job.hooks).map(([name, script]) => ({ name, script })) }),
  };
}

/** `image:docker:` and `services:docker:` (platform, user), as GitLab sends them to runners. */
function executorOptions(docker: PlannedImage["docker"]): Pick<JobImage, "executor_opts"> {
  if (docker === undefined || Object.keys(docker).length === 0) return {};
  return { executor_opts: { docker: { ...docker } } };
}

function pullPolicy(policies: string[] | undefined): { pull_policy?: PullPolicy[] } {
  if (policies === undefined || policies.length === 0) return {};
  return { pull_policy: policies as PullPolicy[] };
}

function artifactsOf(job: PlannedJob): JobArtifact[] {
  const artifacts = job.artifacts;
  if (artifacts === undefined) return [];
  const result: JobArtifact[] = [];
  if (artifacts.paths.length > 0 || artifacts.untracked) {
    result.push({
      name: artifacts.name ?? "artifacts",
      untracked: artifacts.untracked,
      paths: artifacts.paths,
      exclude: artifacts.exclude,
      when: artifacts.when,
      artifact_type: "archive",
      artifact_format: "zip",
      ...(artifacts.expireIn === undefined ? {} : { expire_in: artifacts.expireIn }),
    });
  }
  for (const [type, paths] of Object.entries(artifacts.reports)) {
    result.push({
      name: type,
      untracked: false,
      paths,
      when: type === "junit" ? "always" : artifacts.when,
      artifact_type: type,
      artifact_format: type === "dotenv" || type === "junit" ? "gzip" : "zip",
      ...(artifacts.expireIn === undefined ? {} : { expire_in: artifacts.expireIn }),
    });
  }
  return result;
}

function cacheOf(cache: PlannedCache): JobCache {
  return {
    key: cache.key,
    untracked: cache.untracked,
    policy: (cache.policy as JobCache["policy"] | undefined) ?? "pull-push",
    paths: cache.paths,
    when: cache.when,
    ...(cache.fallbackKeys.length === 0 ? {} : { fallback_keys: cache.fallbackKeys }),
  };
}
