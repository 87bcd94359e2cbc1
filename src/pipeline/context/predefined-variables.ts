import { userInfo } from "node:os";
import type { PipelineContext } from "./pipeline-context.ts";
import { slugify } from "./slugify.ts";

/** The GitLab version pier presents itself as (CI_SERVER_VERSION): a recent release. */
export const GITLAB_VERSION = "18.5.0";

function localUserLogin(): string {
  try {
    return userInfo().username;
  } catch {
    return "pier";
  }
}

function serverParts(serverUrl: string): {
  protocol: string;
  host: string;
  port: string;
  fqdn: string;
} {
  try {
    const url = new URL(serverUrl);
    const protocol = url.protocol.replace(/:$/, "");
    const port = url.port || (protocol === "http" ? "80" : "443");
    return { protocol, host: url.hostname, port, fqdn: url.host };
  } catch {
    return { protocol: "https", host: serverUrl, port: "443", fqdn: serverUrl };
  }
}

/** A stable positive id for the project, derived from its path (CI_PROJECT_ID). */
function projectId(path: string): string {
  let hash = 0;
  for (let i = 0; i < path.length; i++) hash = (Math.imul(hash, 31) + path.charCodeAt(i)) >>> 0;
  return String((hash % 9_000_000) + 1_000_000);
}

/**
 * Predefined variables known when the pipeline is created (usable in `rules`, `workflow`,
 * `include`), in GitLab's names. Persisted ones (CI_PIPELINE_ID, CI_PIPELINE_URL, CI_JOB_*)
 * are not here: GitLab does not offer them to rules; see predefinedJobVariables.
 */
export function predefinedPipelineVariables(ctx: PipelineContext): Array<[string, string]> {
  const server = serverParts(ctx.serverUrl);
  const [major = "0", minor = "0", patch = "0"] = GITLAB_VERSION.split(".");
  const isTag = ctx.refType === "tag";
  const isMergeRequest = ctx.source === "merge_request_event";
  const rootNamespace = ctx.project.namespace.split("/")[0] ?? ctx.project.namespace;
  const variables: Array<[string, string]> = [
    ["CI", "true"],
    ["GITLAB_CI", "true"],
    ["CI_SERVER_URL", ctx.serverUrl],
    ["CI_SERVER_HOST", server.host],
    ["CI_SERVER_PORT", server.port],
    ["CI_SERVER_PROTOCOL", server.protocol],
    ["CI_SERVER_FQDN", server.fqdn],
    ["CI_SERVER_SHELL_SSH_HOST", server.host],
    ["CI_SERVER_SHELL_SSH_PORT", "22"],
    ["CI_SERVER_NAME", "GitLab"],
    ["CI_SERVER_VERSION", GITLAB_VERSION],
    ["CI_SERVER_VERSION_MAJOR", major],
    ["CI_SERVER_VERSION_MINOR", minor],
    ["CI_SERVER_VERSION_PATCH", patch],
    ["CI_SERVER_REVISION", "pier"],
    ["CI_API_V4_URL", `${ctx.serverUrl}/api/v4`],
    ["CI_API_GRAPHQL_URL", `${ctx.serverUrl}/api/graphql`],
    ["CI_TEMPLATE_REGISTRY_HOST", "registry.gitlab.com"],
    ["CI_PROJECT_ID", projectId(ctx.project.path)],
    ["CI_PROJECT_NAME", ctx.project.name],
    ["CI_PROJECT_TITLE", ctx.project.name],
    ["CI_PROJECT_DESCRIPTION", ""],
    ["CI_PROJECT_PATH", ctx.project.path],
    ["CI_PROJECT_PATH_SLUG", ctx.project.pathSlug],
    ["CI_PROJECT_NAMESPACE", ctx.project.namespace],
    ["CI_PROJECT_NAMESPACE_SLUG", slugify(ctx.project.namespace)],
    ["CI_PROJECT_ROOT_NAMESPACE", rootNamespace],
    ["CI_PROJECT_URL", ctx.project.url],
    ["CI_PROJECT_VISIBILITY", "private"],
    ["CI_PROJECT_CLASSIFICATION_LABEL", ""],
    ["CI_DEFAULT_BRANCH", ctx.defaultBranch],
    ["CI_CONFIG_PATH", ".gitlab-ci.yml"],
    ["CI_COMMIT_SHA", ctx.sha],
    ["CI_COMMIT_SHORT_SHA", ctx.shortSha],
    ["CI_COMMIT_BEFORE_SHA", ctx.beforeSha],
    ["CI_COMMIT_REF_NAME", ctx.refName],
    ["CI_COMMIT_REF_SLUG", slugify(ctx.refName)],
    ["CI_COMMIT_REF_PROTECTED", ctx.refProtected ? "true" : "false"],
    ["CI_COMMIT_MESSAGE", ctx.commit.message],
    ["CI_COMMIT_TITLE", ctx.commit.title],
    ["CI_COMMIT_DESCRIPTION", ctx.commit.description],
    ["CI_COMMIT_AUTHOR", ctx.commit.author],
    ["CI_COMMIT_TIMESTAMP", ctx.commit.timestamp],
    ["CI_PIPELINE_IID", String(ctx.pipelineIid)],
    ["CI_PIPELINE_SOURCE", ctx.source],
    ["CI_PIPELINE_CREATED_AT", ctx.createdAt],
    ["CI_REGISTRY", ctx.registry],
    ["CI_REGISTRY_IMAGE", ctx.registryImage],
    ["GITLAB_USER_ID", "1"],
    ["GITLAB_USER_LOGIN", localUserLogin()],
    ["GITLAB_USER_NAME", ctx.commit.authorName],
    ["GITLAB_USER_EMAIL", ctx.commit.authorEmail],
    ["GITLAB_FEATURES", ""],
  ];
  if (isTag) {
    variables.push(["CI_COMMIT_TAG", ctx.refName], ["CI_COMMIT_TAG_MESSAGE", ctx.tagMessage]);
  } else if (isMergeRequest) {
    variables.push(
      ["CI_MERGE_REQUEST_ID", "1"],
      ["CI_MERGE_REQUEST_IID", "1"],
      ["CI_MERGE_REQUEST_EVENT_TYPE", "detached"],
      ["CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", ctx.refName],
      ["CI_MERGE_REQUEST_SOURCE_BRANCH_SHA", ""],
      ["CI_MERGE_REQUEST_TARGET_BRANCH_NAME", ctx.defaultBranch],
      ["CI_MERGE_REQUEST_PROJECT_PATH", ctx.project.path],
      ["CI_MERGE_REQUEST_PROJECT_URL", ctx.project.url],
      ["CI_MERGE_REQUEST_SOURCE_PROJECT_PATH", ctx.project.path],
      ["CI_MERGE_REQUEST_SOURCE_PROJECT_URL", ctx.project.url],
      ["CI_MERGE_REQUEST_TITLE", ctx.commit.title],
      ["CI_MERGE_REQUEST_REF_PATH", "refs/merge-requests/1/head"],
    );
  } else {
    variables.push(["CI_COMMIT_BRANCH", ctx.refName]);
  }
  if (["trigger", "pipeline", "parent_pipeline"].includes(ctx.source)) {
    variables.push(["CI_PIPELINE_TRIGGERED", "true"]);
  }
  return variables;
}

export interface JobIdentity {
  /** Full name, with the ` 1/3` or `: [a, b]` suffix of parallel jobs. */
  name: string;
  stage: string;
  id: number;
  /** 1-based instance index, only for `parallel` jobs. */
  nodeIndex?: number;
  nodeTotal?: number;
}

/**
 * Variables of one job known before it runs, plus the pipeline's persisted ones. The runner
 * side (CI_JOB_TOKEN, CI_PROJECT_DIR, CI_BUILDS_DIR, CI_JOB_STARTED_AT, CI_JOB_STATUS,
 * CI_RUNNER_*, CI_CONCURRENT_*, CI_REGISTRY_PASSWORD, CI_REPOSITORY_URL, CI_JOB_TIMEOUT,
 * CI_JOB_MANUAL, CI_DISPOSABLE_ENVIRONMENT) belongs to whoever runs the job.
 */
export function predefinedJobVariables(
  job: JobIdentity,
  ctx: PipelineContext,
): Array<[string, string]> {
  const variables: Array<[string, string]> = [
    ["CI_SERVER", "yes"],
    ["CI_PIPELINE_ID", String(ctx.pipelineId)],
    ["CI_PIPELINE_URL", `${ctx.project.url}/-/pipelines/${ctx.pipelineId}`],
    ["CI_JOB_ID", String(job.id)],
    ["CI_JOB_URL", `${ctx.project.url}/-/jobs/${job.id}`],
    ["CI_JOB_NAME", job.name],
    ["CI_JOB_NAME_SLUG", slugify(job.name)],
    ["CI_JOB_STAGE", job.stage],
    ["CI_REGISTRY_USER", "gitlab-ci-token"],
  ];
  if (job.nodeIndex !== undefined) variables.push(["CI_NODE_INDEX", String(job.nodeIndex)]);
  variables.push(["CI_NODE_TOTAL", String(job.nodeIndex !== undefined ? (job.nodeTotal ?? 1) : 1)]);
  return variables;
}
