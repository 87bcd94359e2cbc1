import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { repositoryLayout } from "../../src/storage/repository-layout.ts";
import { worktreeMatchesHead } from "../../src/storage/worktree-clean.ts";
import { git } from "../support/git.ts";

let repo: string;

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), "pier-worktree-clean-"));
  git(repo, "init", "-q", "-b", "main");
  writeFileSync(join(repo, "a.txt"), "alpha\n");
  writeFileSync(join(repo, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  git(repo, "add", ".");
  git(repo, "commit", "-qm", "first");
  // The index must be newer than the files for their stat data to count (git's racy check).
  const later = new Date(Date.now() + 2000);
  utimesSync(join(repo, ".git", "index"), later, later);
});

afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
});

/** pier's answer, checked against git's own: "clean" must never hide a change. */
async function answer(): Promise<true | undefined> {
  const clean = worktreeMatchesHead(await repositoryLayout(repo));
  const diff = git(repo, "diff", "HEAD", "--name-status", "--no-renames");
  if (clean === true) expect(diff).toBe("");
  return clean;
}

describe("worktreeMatchesHead", () => {
  it("answers for a fresh commit, with untracked files around (git diff HEAD ignores them)", async () => {
    writeFileSync(join(repo, "untracked.txt"), "new\n");
    expect(await answer()).toBe(true);
  });

  it("leaves to git a changed, deleted or re-moded file, a staged change and a racy index", async () => {
    writeFileSync(join(repo, "a.txt"), "ALPHA\n");
    expect(await answer()).toBeUndefined();
    git(repo, "checkout", "--", "a.txt");

    unlinkSync(join(repo, "run.sh"));
    expect(await answer()).toBeUndefined();
    git(repo, "checkout", "--", "run.sh");

    chmodSync(join(repo, "run.sh"), 0o644);
    expect(await answer()).toBeUndefined();
    chmodSync(join(repo, "run.sh"), 0o755);

    writeFileSync(join(repo, "a.txt"), "staged\n");
    git(repo, "add", "a.txt");
    writeFileSync(join(repo, "a.txt"), "alpha\n");
    expect(await answer()).toBeUndefined();
  });

  it("answers again once git has refreshed the index after a touch, and not while the index is racy", async () => {
    const earlier = new Date(Date.now() - 10_000);
    utimesSync(join(repo, "a.txt"), earlier, earlier);
    expect(await answer()).toBeUndefined();
    git(repo, "update-index", "--refresh");
    expect(await answer()).toBe(true);
    // A file as new as the index may have changed within the index's own timestamp.
    utimesSync(join(repo, ".git", "index"), earlier, earlier);
    expect(await answer()).toBeUndefined();
  });

  it("leaves to git a folder turned into a link to a copy of it", async () => {
    // A folder swapped for a link to a copy of it: the same files, but git sees them as gone.
    mkdirSync(join(repo, "d"));
    writeFileSync(join(repo, "d", "f.txt"), "in d\n");
    git(repo, "add", "d");
    git(repo, "commit", "-qm", "d");
    const later = new Date(Date.now() + 2000);
    utimesSync(join(repo, ".git", "index"), later, later);
    expect(await answer()).toBe(true);
    renameSync(join(repo, "d"), join(repo, "d2"));
    symlinkSync("d2", join(repo, "d"));
    expect(await answer()).toBeUndefined();
  });
});
