import { readFileSync } from "node:fs";
import { posix } from "node:path";
import type { JobSpec, JobVariable } from "../job/spec.ts";
import type { RunnerEntry } from "./config-toml.ts";

function plainVariable(key: string, value: string): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw: false };
}

function fileVariable(key: string, value: string): JobVariable {
  return { key, value, public: true, masked: false, file: true, raw: true };
}

/**
 * `clone_url = "https://git.internal"` → `https://gitlab-ci-token:<token>@git.internal/<path>.git`
 * (ssh: `git@`); undefined when clone_url has no scheme, which gitlab-runner ignores too.
 */
export function cloneUrlFor(
  cloneUrl: string,
  projectPath: string,
  jobToken: string,
): string | undefined {
  let url: URL;
  try {
    url = new URL(cloneUrl);
  } catch {
    return undefined;
  }
  if (url.protocol === "ssh:") {
    if (url.username === "") url.username = "git";
  } else {
    url.username = "gitlab-ci-token";
    url.password = jobToken;
  }
  url.pathname = posix.join(url.pathname, `${projectPath}.git`);
  return url.href;
}

/**
 * gitlab-runner's TLS variables: the GitLab CA and client certificate as file variables, so the
 * job's own git and curl calls to GitLab trust it as the runner does.
 */
export function tlsVariablesFor(entry: RunnerEntry): JobVariable[] {
  const pairs: [string | undefined, string, string][] = [
    [entry.tlsCaFile, "CI_SERVER_TLS_CA_FILE", "GIT_SSL_CAINFO"],
    [entry.tlsCertFile, "CI_SERVER_TLS_CERT_FILE", "GIT_SSL_CERT"],
    [entry.tlsKeyFile, "CI_SERVER_TLS_KEY_FILE", "GIT_SSL_KEY"],
  ];
  const variables: JobVariable[] = [];
  for (const [file, serverKey, gitKey] of pairs) {
    if (file === undefined || file === "") continue;
    let pem: string;
    try {
      pem = readFileSync(file, "utf8");
    } catch {
      continue; // The GitLab client already refused a file it cannot read.
    }
    variables.push(fileVariable(gitKey, pem), fileVariable(serverKey, pem));
  }
  return variables;
}

/**
 * The job GitLab sent, with what config.toml adds to it as gitlab-runner does: `environment`
 * and `[runners.feature_flags]` before the job's own variables (so the job's win),
 * `clone_url` for the clone, and `pre_build_script`/`post_build_script` in the script's shell.
 */
export function jobSpecForRunner(job: JobSpec, entry: RunnerEntry): JobSpec {
  const configured: JobVariable[] = [];
  for (const line of entry.environment ?? []) {
    const equals = line.indexOf("=");
    if (equals > 0) configured.push(plainVariable(line.slice(0, equals), line.slice(equals + 1)));
  }
  for (const [flag, on] of Object.entries(entry.featureFlags ?? {})) {
    configured.push(plainVariable(flag, String(on)));
  }
  configured.push(...tlsVariablesFor(entry));
  const cloneUrl =
    entry.cloneUrl === undefined
      ? undefined
      : cloneUrlFor(entry.cloneUrl, job.job_info.project_full_path, job.token);
  const gitInfo = cloneUrl === undefined ? job.git_info : { ...job.git_info, repo_url: cloneUrl };
  const steps = job.steps.map((step) => {
    if (step.name !== "script") return step;
    const before = entry.preBuildScript ? [entry.preBuildScript] : [];
    const after = entry.postBuildScript ? [entry.postBuildScript] : [];
    return { ...step, script: [...before, ...step.script, ...after] };
  });
  return {
    ...job,
    services: job.services ?? [],
    artifacts: job.artifacts ?? [],
    cache: job.cache ?? [],
    dependencies: job.dependencies ?? [],
    variables: [...configured, ...(job.variables ?? [])],
    git_info: gitInfo,
    steps,
  };
}
