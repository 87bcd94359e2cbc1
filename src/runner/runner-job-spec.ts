import type { JobSpec, JobVariable } from "../job/spec.ts";
import type { RunnerEntry } from "./config-toml.ts";

function plainVariable(key: string, value: string): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw: false };
}

/** `clone_url = "https://git.internal"` → `https://gitlab-ci-token:<token>@git.internal/<path>.git`. */
export function cloneUrlFor(cloneUrl: string, projectPath: string, jobToken: string): string {
  const url = new URL(cloneUrl);
  url.username = "gitlab-ci-token";
  url.password = jobToken;
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/${projectPath}.git`;
  return url.href;
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
  const gitInfo =
    entry.cloneUrl === undefined || entry.cloneUrl === ""
      ? job.git_info
      : {
          ...job.git_info,
          repo_url: cloneUrlFor(entry.cloneUrl, job.job_info.project_full_path, job.token),
        };
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
