import { execFileSync } from "node:child_process";

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
