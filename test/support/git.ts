import { execFileSync } from "node:child_process";
import type { JobGitInfo } from "../../src/job/spec.ts";

/** The identity test commits are made with: the machine's git config may have none. */
export const testGitIdentity = {
  GIT_AUTHOR_NAME: "pier test",
  GIT_AUTHOR_EMAIL: "test@pier.invalid",
  GIT_COMMITTER_NAME: "pier test",
  GIT_COMMITTER_EMAIL: "test@pier.invalid",
};

/** Runs `git ARGS` in `cwd` as the test identity; returns its trimmed stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd, env: { ...process.env, ...testGitIdentity } })
    .toString()
    .trim();
}

/** The job's git info as local mode hands it to the storage layer: branch main at `sha`. */
export function localGitInfo(sha: string): JobGitInfo {
  return {
    repo_url: "",
    ref: "main",
    sha,
    before_sha: "0000000000000000000000000000000000000000",
    ref_type: "branch",
    refspecs: [],
    depth: 0,
  };
}
