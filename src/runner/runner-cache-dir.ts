import { join } from "node:path";
import { projectKeyFor } from "../executors/shell/build-paths.ts";
import type { JobSpec } from "../job/spec.ts";
import { cacheDirFor } from "../storage/cache.ts";
import { safeDirComponent } from "../storage/safe-name.ts";
import type { RunnerEntry } from "./config-toml.ts";

/**
 * Where a runner job's local caches live, one folder per project so that every job of the
 * project finds them: `cache_dir` laid out as gitlab-runner does
 * (`<cache_dir>/<project path>/<key>/cache.zip`), else pier's own `<state>/cache/<project key>`.
 * The project is known by its clone URL without the job token, which changes with every job.
 */
export function runnerCacheDir(
  entry: Pick<RunnerEntry, "cacheDir">,
  stateDir: string,
  spec: JobSpec,
): string {
  const projectPath = spec.job_info.project_full_path;
  if (entry.cacheDir !== undefined && entry.cacheDir !== "") {
    return join(entry.cacheDir, ...projectPath.split("/").filter(Boolean).map(safeDirComponent));
  }
  return cacheDirFor(stateDir, projectKeyFor(spec, undefined));
}
