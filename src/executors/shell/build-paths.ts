import { createHash } from "node:crypto";
import { join } from "node:path";
import type { JobSpec } from "../../job/spec.ts";
import { buildsRoot } from "../../storage/state-dir.ts";

export interface BuildPaths {
  /** CI_BUILDS_DIR: this job's slot folder. */
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
 */
export function projectKeyFor(spec: JobSpec, projectDir: string | undefined): string {
  const identity = `${projectDir ?? spec.git_info.repo_url}\n${spec.job_info.project_full_path}`;
  return createHash("sha256").update(identity).digest("hex").slice(0, 12);
}

/** `<state>/builds/<concurrent id>/<project key>/<project concurrent id>/<project path>`. */
export function buildPathsFor(options: {
  stateDir: string;
  concurrentId: number;
  projectKey: string;
  projectConcurrentId: number;
  projectPath: string;
}): BuildPaths {
  const buildsDir = join(
    buildsRoot(options.stateDir),
    String(options.concurrentId),
    options.projectKey,
    String(options.projectConcurrentId),
  );
  const safeProjectPath = options.projectPath
    .split("/")
    .filter((part) => part !== "" && part !== "." && part !== "..")
    .join("/");
  const projectDir = join(buildsDir, safeProjectPath === "" ? "project" : safeProjectPath);
  const tmpDir = `${projectDir}.tmp`;
  return {
    buildsDir,
    projectDir,
    tmpDir,
    homeDir: join(tmpDir, "home"),
    tmpdirDir: join(tmpDir, "tmp"),
  };
}
