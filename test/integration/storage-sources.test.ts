import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removalsSettled } from "../../src/storage/remove-aside.ts";
import { prepareSources } from "../../src/storage/sources.ts";
import { discardSpareCheckouts } from "../../src/storage/spare-checkouts.ts";
import { git } from "../support/git.ts";
import { localCheckout, localGitInfo } from "../support/local-checkout.ts";

/** Every path in the working tree (outside .git) with its mtime and mode. */
function snapshot(dir: string): Map<string, string> {
  const result = new Map<string, string>();
  const visit = (d: string): void => {
    for (const name of readdirSync(d)) {
      if (d === dir && name === ".git") continue;
      const path = join(d, name);
      const stats = lstatSync(path);
      result.set(
        relative(dir, path),
        `${String(stats.mtimeMs)} ${String(stats.mode)} ${String(stats.size)}`,
      );
      if (stats.isDirectory()) visit(path);
    }
  };
  visit(dir);
  return result;
}

describe("prepareSources (local mode)", () => {
  let root: string;
  let repo: string;
  let shas: string[];

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pier-sources-"));
    repo = join(root, "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    shas = [];
    for (let i = 1; i <= 6; i++) {
      writeFileSync(join(repo, "history.txt"), `commit ${String(i)}\n`);
      if (i === 1) {
        writeFileSync(join(repo, "keep.txt"), "keep\n");
        writeFileSync(join(repo, "gone.txt"), "to be deleted\n");
        writeFileSync(join(repo, "script.sh"), "#!/bin/sh\necho hi\n");
        mkdirSync(join(repo, "sub"));
        writeFileSync(join(repo, "sub", "binary.bin"), Buffer.from([0, 1, 2, 255]));
        writeFileSync(join(repo, ".gitignore"), "ignored.log\n");
      }
      git(repo, "add", "-A");
      git(repo, "commit", "-q", "-m", `commit ${String(i)}`);
      shas.push(git(repo, "rev-parse", "HEAD"));
    }
    // Uncommitted state: a modified file, a staged new file, a deletion, a mode change,
    // a binary change, an untracked file and an ignored file.
    writeFileSync(join(repo, "keep.txt"), "keep, changed\n");
    writeFileSync(join(repo, "staged.txt"), "staged new file\n");
    git(repo, "add", "staged.txt");
    rmSync(join(repo, "gone.txt"));
    chmodSync(join(repo, "script.sh"), 0o755);
    writeFileSync(join(repo, "sub", "binary.bin"), Buffer.from([9, 0, 8]));
    writeFileSync(join(repo, "untracked.txt"), "not tracked\n");
    writeFileSync(join(repo, "ignored.log"), "ignored\n");
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("checks out HEAD with the uncommitted tracked changes, and leaves the user's tree untouched", async () => {
    const statusBefore = git(repo, "status", "--porcelain");
    const filesBefore = snapshot(repo);
    const indexBefore = lstatSync(join(repo, ".git", "index")).mtimeMs;
    const target = join(root, "builds", "0", "project");
    const head = shas.at(-1) ?? "";

    const started = performance.now();
    await localCheckout(repo, head, { target, includeWorkingTreeChanges: true });
    const elapsed = performance.now() - started;

    expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("keep, changed\n");
    expect(readFileSync(join(target, "staged.txt"), "utf8")).toBe("staged new file\n");
    expect(existsSync(join(target, "gone.txt"))).toBe(false);
    expect(lstatSync(join(target, "script.sh")).mode & 0o777).toBe(0o755);
    expect([...readFileSync(join(target, "sub", "binary.bin"))]).toEqual([9, 0, 8]);
    expect(existsSync(join(target, "untracked.txt"))).toBe(false);
    expect(existsSync(join(target, "ignored.log"))).toBe(false);
    expect(git(target, "rev-parse", "HEAD")).toBe(head);
    expect(git(target, "rev-list", "--count", "HEAD")).toBe("6");
    expect(git(target, "rev-parse", "refs/remotes/origin/main")).toBe(head);
    expect(git(target, "rev-parse", "--is-shallow-repository")).toBe("false");

    // The index first: `git status` below may refresh it itself.
    expect(lstatSync(join(repo, ".git", "index")).mtimeMs).toBe(indexBefore);
    expect(snapshot(repo)).toEqual(filesBefore);
    expect(git(repo, "status", "--porcelain")).toBe(statusBefore);
    console.log(`clone checkout with working tree changes: ${elapsed.toFixed(1)} ms`);
  });

  it("makes the next job's checkout in the background and hands it over whole", async () => {
    const head = shas.at(-1) ?? "";
    const spareDir = join(root, "builds", ".spare");
    const options = {
      repoDir: repo,
      gitInfo: localGitInfo(head),
      strategy: "fetch" as const,
      depth: 0,
      includeWorkingTreeChanges: true,
    };
    const first = join(root, "builds", "0", "first");
    await prepareSources({ ...options, target: first, spareDir });
    writeFileSync(join(first, "keep.txt"), "the first job's own edit\n");
    // The second job takes the spare (made while the first one ran) and asks for depth 2.
    const second = join(root, "builds", "1", "second");
    await prepareSources({ ...options, depth: 2, target: second });
    // What stays is the template later spares are copied from.
    expect(readdirSync(spareDir)).toEqual([expect.stringMatching(/^\d+-template-/)]);

    {
      const target = second;
      expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("keep, changed\n");
      expect(readFileSync(join(target, "staged.txt"), "utf8")).toBe("staged new file\n");
      expect(existsSync(join(target, "gone.txt"))).toBe(false);
      expect([...readFileSync(join(target, "sub", "binary.bin"))]).toEqual([9, 0, 8]);
      expect(git(target, "rev-parse", "HEAD")).toBe(head);
      expect(git(target, "rev-parse", "refs/remotes/origin/main")).toBe(head);
      expect(git(target, "rev-list", "--count", "HEAD")).toBe("2");
      // The index matches the tree read: only the working tree changes show.
      const status = git(target, "status", "--porcelain").split("\n");
      expect(status.map((line) => line.trim()).sort()).toEqual(
        ["D gone.txt", "M keep.txt", "M script.sh", "M sub/binary.bin", "?? staged.txt"].sort(),
      );
    }

    // A spare nobody takes is removed at the end of the pipeline.
    await prepareSources({ ...options, target: join(root, "builds", "2", "third"), spareDir });
    await discardSpareCheckouts();
    await removalsSettled();
    expect(readdirSync(spareDir)).toEqual([]);
  });

  it("leaves the changes out when asked, or when the job's commit is not HEAD", async () => {
    const clean = join(root, "clean");
    await localCheckout(repo, shas.at(-1) ?? "", { target: clean });
    expect(readFileSync(join(clean, "keep.txt"), "utf8")).toBe("keep\n");
    expect(git(clean, "status", "--porcelain")).toBe("");

    const older = join(root, "older");
    await localCheckout(repo, shas[2] ?? "", { target: older, includeWorkingTreeChanges: true });
    expect(readFileSync(join(older, "history.txt"), "utf8")).toBe("commit 3\n");
    expect(readFileSync(join(older, "keep.txt"), "utf8")).toBe("keep\n");
    expect(git(older, "status", "--porcelain")).toBe("");
  });

  it("honours GIT_DEPTH", async () => {
    const target = join(root, "shallow");
    await localCheckout(repo, shas.at(-1) ?? "", { target, depth: 2 });
    expect(git(target, "rev-parse", "--is-shallow-repository")).toBe("true");
    expect(git(target, "rev-list", "--count", "HEAD")).toBe("2");
    expect(git(target, "log", "--format=%s")).toBe("commit 6\ncommit 5");

    const deeper = join(root, "deeper");
    await localCheckout(repo, shas.at(-1) ?? "", { target: deeper, depth: 50 });
    expect(git(deeper, "rev-list", "--count", "HEAD")).toBe("6");
  });

  it("follows merges when cutting the history at GIT_DEPTH", async () => {
    git(repo, "stash", "-u", "-q");
    git(repo, "checkout", "-q", "-b", "side", shas[3] ?? "");
    writeFileSync(join(repo, "side.txt"), "side\n");
    git(repo, "add", "side.txt");
    git(repo, "commit", "-q", "-m", "side");
    git(repo, "checkout", "-q", "main");
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "side");
    const merge = git(repo, "rev-parse", "HEAD");
    const target = join(root, "merge");
    await localCheckout(repo, merge, { target, depth: 2 });
    // Depth 2 from the merge: the merge and both of its parents.
    expect(git(target, "rev-list", "--count", "HEAD")).toBe("3");
    expect(readFileSync(join(target, "side.txt"), "utf8")).toBe("side\n");
  });

  it("fetch reuses the checkout: resets tracked files and cleans untracked ones", async () => {
    const target = join(root, "fetch");
    const options = {
      repoDir: repo,
      strategy: "fetch" as const,
      depth: 0,
      target,
      includeWorkingTreeChanges: false,
    };
    await prepareSources({ ...options, gitInfo: localGitInfo(shas[1] ?? "") });
    expect(readFileSync(join(target, "history.txt"), "utf8")).toBe("commit 2\n");
    writeFileSync(join(target, "left-behind.txt"), "from the previous job\n");
    writeFileSync(join(target, "keep.txt"), "modified by the previous job\n");
    const marker = lstatSync(join(target, ".git")).ino;

    await prepareSources({ ...options, gitInfo: localGitInfo(shas.at(-1) ?? "") });
    expect(lstatSync(join(target, ".git")).ino).toBe(marker);
    expect(readFileSync(join(target, "history.txt"), "utf8")).toBe("commit 6\n");
    expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("keep\n");
    expect(existsSync(join(target, "left-behind.txt"))).toBe(false);
    expect(git(target, "status", "--porcelain")).toBe("");
  });

  it("clone starts from scratch; none keeps the directory; empty empties it", async () => {
    const target = join(root, "strategies");
    mkdirSync(target);
    writeFileSync(join(target, "old.txt"), "old\n");
    await localCheckout(repo, shas.at(-1) ?? "", { target });
    expect(existsSync(join(target, "old.txt"))).toBe(false);

    writeFileSync(join(target, "job-output.txt"), "x\n");
    await localCheckout(repo, shas.at(-1) ?? "", {
      target,
      strategy: "none",
      includeWorkingTreeChanges: true,
    });
    expect(existsSync(join(target, "job-output.txt"))).toBe(true);

    await localCheckout(repo, shas.at(-1) ?? "", {
      target,
      strategy: "empty",
      includeWorkingTreeChanges: true,
    });
    expect(readdirSync(target)).toEqual([]);

    const fresh = join(root, "none-fresh");
    await localCheckout(repo, shas.at(-1) ?? "", {
      target: fresh,
      strategy: "none",
      includeWorkingTreeChanges: true,
    });
    expect(readdirSync(fresh)).toEqual([]);
  });

  it("refuses a target inside the user's working tree", async () => {
    const before = snapshot(repo);
    await expect(
      localCheckout(repo, shas.at(-1) ?? "", { target: join(repo, "build") }),
    ).rejects.toThrow(/inside the working tree/);
    await expect(localCheckout(repo, shas.at(-1) ?? "", { target: repo })).rejects.toThrow(
      /inside the working tree/,
    );
    expect(snapshot(repo)).toEqual(before);
  });

  it("works from a linked worktree of the user's repository", async () => {
    const worktree = join(root, "worktree");
    git(repo, "worktree", "add", "-q", "--detach", worktree, shas[4] ?? "");
    writeFileSync(join(worktree, "keep.txt"), "changed in worktree\n");
    const target = join(root, "from-worktree");
    await localCheckout(worktree, shas[4] ?? "", { target, includeWorkingTreeChanges: true });
    expect(readFileSync(join(target, "history.txt"), "utf8")).toBe("commit 5\n");
    expect(readFileSync(join(target, "keep.txt"), "utf8")).toBe("changed in worktree\n");
  });

  it("clones a remote repository in runner mode, honouring depth", async () => {
    git(repo, "stash", "-u", "-q");
    const target = join(root, "remote");
    await prepareSources({
      gitInfo: {
        ...localGitInfo(shas.at(-1) ?? ""),
        repo_url: `file://${repo}`,
        refspecs: ["+refs/heads/main:refs/remotes/origin/main"],
      },
      strategy: "clone",
      depth: 3,
      target,
      includeWorkingTreeChanges: false,
    });
    expect(git(target, "rev-parse", "HEAD")).toBe(shas.at(-1));
    expect(git(target, "rev-list", "--count", "HEAD")).toBe("3");
  });
});
