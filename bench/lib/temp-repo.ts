import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** The branch checked out in every bench repository: pipelines run as for a feature branch. */
export const benchBranch = "feature/bench";

const fixedDate = "2026-01-01T00:00:00Z";

/**
 * A git repository like a clone: one commit of `files` (by path relative to the repository)
 * on main, an origin remote with origin/HEAD set (so no tool warns about a missing default
 * branch), and `benchBranch` checked out.
 */
export async function createRepository(
  directory: string,
  files: Record<string, string>,
): Promise<void> {
  await mkdir(directory, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(directory, path)), { recursive: true });
    await writeFile(join(directory, path), content);
  }
  const git = (...args: string[]): void => {
    execFileSync("git", args, {
      cwd: directory,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Bench",
        GIT_AUTHOR_EMAIL: "bench@example.com",
        GIT_COMMITTER_NAME: "Bench",
        GIT_COMMITTER_EMAIL: "bench@example.com",
        GIT_AUTHOR_DATE: fixedDate,
        GIT_COMMITTER_DATE: fixedDate,
      },
    });
  };
  git("init", "--quiet", "--initial-branch=main");
  git("config", "commit.gpgsign", "false");
  git("remote", "add", "origin", "https://gitlab.example.com/bench/project.git");
  git("add", "--all");
  git("commit", "--quiet", "--message", "Benchmark fixture");
  git("update-ref", "refs/remotes/origin/main", "HEAD");
  git("symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main");
  git("checkout", "--quiet", "-b", benchBranch);
}

/** A repository (as createRepository makes it) at `directory` whose only file is this `.gitlab-ci.yml`. */
export async function createPipelineRepository(
  directory: string,
  pipeline: string,
): Promise<string> {
  await createRepository(directory, { ".gitlab-ci.yml": pipeline });
  return directory;
}
