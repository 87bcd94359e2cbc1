import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import type { JobSpec } from "../../job/spec.ts";
import { buildsRoot } from "../../storage/state-dir.ts";

export interface BuildPaths {
  /** CI_BUILDS_DIR: this job's slot folder, or `builds_dir` itself as gitlab-runner sets it. */
  buildsDir: string;
  /** CI_PROJECT_DIR: the checkout. */
  projectDir: string;
  /** `<project dir>.tmp`: scripts, file variables, HOME and TMPDIR; removed after every job. */
  tmpDir: string;
  homeDir: string;
  tmpdirDir: string;
}

/**
 * Identifies a project across pier processes: the same repository gets the same key, so
 * project slot ids are shared host-wide; two repositories with one GitLab path do not collide.
 * A clone URL is known without its credentials: in runner mode it holds the job's token.
 */
export function projectKeyFor(spec: JobSpec, projectDir: string | undefined): string {
  const repository = projectDir ?? withoutCredentials(spec.git_info.repo_url);
  const identity = `${repository}\n${spec.job_info.project_full_path}`;
  return createHash("sha256").update(identity).digest("hex").slice(0, 12);
}

/** The URL without its user and password; anything that is not a URL as it is. */
export function withoutCredentials(repoUrl: string): string {
  try {
    const url = new URL(repoUrl);
    url.username = "";
    url.password = "";
    return url.href;
  } catch {
    return repoUrl;
  }
}

/**
 * `<state>/builds/<concurrent id>/<project key>/<project concurrent id>/<project path>`, or
 * with config.toml's `builds_dir` gitlab-runner's shared layout
 * `<builds_dir>/<runner short token>/<project concurrent id>/<project path>` (the project key
 * stands in for the short token outside runner mode).
 */
export function buildPathsFor(options: {
  stateDir: string;
  buildsDir?: string;
  runnerShortToken?: string;
  concurrentId: number;
  projectKey: string;
  projectConcurrentId: number;
  projectPath: string;
}): BuildPaths {
  // A relative builds_dir is taken from pier's working directory, as gitlab-runner does.
  const configured =
    options.buildsDir === undefined || options.buildsDir === ""
      ? undefined
      : resolve(options.buildsDir);
  const slotDir = configured
    ? join(
        configured,
        options.runnerShortToken ?? options.projectKey,
        String(options.projectConcurrentId),
      )
    : join(
        buildsRoot(options.stateDir),
        String(options.concurrentId),
        options.projectKey,
        String(options.projectConcurrentId),
      );
  const safeProjectPath = options.projectPath
    .split("/")
    .filter((part) => part !== "" && part !== "." && part !== "..")
    .join("/");
  const projectDir = join(slotDir, safeProjectPath === "" ? "project" : safeProjectPath);
  const tmpDir = `${projectDir}.tmp`;
  return {
    buildsDir: configured ?? slotDir,
    projectDir,
    tmpDir,
    homeDir: join(tmpDir, "home"),
    tmpdirDir: join(tmpDir, "tmp"),
  };
}
