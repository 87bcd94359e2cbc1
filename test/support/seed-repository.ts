import { appendFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { git } from "./git.ts";
import { repoRoot } from "./pier-cli.ts";

/**
 * examples/seed copied to `directory` and committed on main, with its config.toml pointed at
 * the registry storage volume `registryVolume` (the test's own, so that it can remove it) and
 * `extraJobs` appended to its .gitlab-ci.yml.
 */
export function makeSeedRepository(
  directory: string,
  registryVolume: string,
  extraJobs = "",
): string {
  cpSync(join(repoRoot, "examples/seed"), directory, { recursive: true });
  appendFileSync(
    join(directory, "config.toml"),
    `    pier_registry_volume = "${registryVolume}"\n`,
  );
  appendFileSync(join(directory, ".gitlab-ci.yml"), extraJobs);
  git(directory, "init", "-q", "-b", "main");
  git(directory, "add", "-A");
  git(directory, "commit", "-qm", "seed");
  return directory;
}
