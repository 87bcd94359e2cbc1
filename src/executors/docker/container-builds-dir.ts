import { posix } from "node:path";

const DEFAULT_BUILDS_DIR = "/builds";

/** config.toml's `builds_dir` as a path in the container: absolute, not `/` itself. */
export function containerBuildsDir(buildsDir: string | undefined): string {
  const wanted = buildsDir === undefined ? "" : posix.normalize(buildsDir).replace(/\/+$/, "");
  return wanted.startsWith("/") && wanted !== "/" ? wanted : DEFAULT_BUILDS_DIR;
}

/** Where the job's files live in the container: `<builds dir>/<namespace>/<project>`. */
export function containerProjectDir(buildsDir: string, projectPath: string): string {
  const safe = projectPath
    .split("/")
    .filter((part) => part !== "" && part !== "." && part !== "..")
    .join("/");
  return posix.join(buildsDir, safe === "" ? "project" : safe);
}
