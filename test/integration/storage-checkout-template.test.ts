import { spawnSync } from "node:child_process";
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { removalsSettled } from "../../src/storage/remove-aside.ts";
import { warmUpSources } from "../../src/storage/sources.ts";
import { discardSpareCheckouts } from "../../src/storage/spare-checkouts.ts";
import { git } from "../support/git.ts";
import { localCheckout } from "../support/local-checkout.ts";

/** Exit code of `git diff-files --quiet`: plumbing that trusts the index's stat data. */
function diffFilesQuiet(cwd: string): number | null {
  return spawnSync("git", ["diff-files", "--quiet"], { cwd }).status;
}

describe("per-job checkouts copied from a pipeline's template", () => {
  let root: string;
  let repo: string;
  let head: string;
  let spareDir: string;

  /** Four jobs in a row as a pipeline runs them; the third and fourth are template copies. */
  async function fourCheckouts(includeWorkingTreeChanges: boolean): Promise<string[]> {
    const targets = [0, 1, 2, 3].map((i) => join(root, "builds", String(i), "project"));
    for (const [i, target] of targets.entries()) {
      await localCheckout(repo, head, {
        target,
        includeWorkingTreeChanges,
        ...(i < targets.length - 1 && { spareDir }),
      });
    }
    return targets;
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pier-template-"));
    repo = join(root, "repo");
    spareDir = join(root, "builds", ".spare");
    mkdirSync(join(repo, "deep", "er"), { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "a.txt"), "a\n");
    writeFileSync(join(repo, "deep", "er", "b.txt"), "b\n");
    writeFileSync(join(repo, "run.sh"), "#!/bin/sh\necho run\n");
    chmodSync(join(repo, "run.sh"), 0o755);
    symlinkSync("a.txt", join(repo, "link"));
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "one");
    head = git(repo, "rev-parse", "HEAD");
  });

  afterEach(async () => {
    await discardSpareCheckouts();
    await removalsSettled();
    rmSync(root, { recursive: true, force: true });
  });

  it("gives each job a clean repository of its own, with the index git trusts", async () => {
    const targets = await fourCheckouts(false);
    for (const target of targets) {
      expect(readFileSync(join(target, "deep", "er", "b.txt"), "utf8")).toBe("b\n");
      expect(lstatSync(join(target, "run.sh")).mode & 0o777).toBe(0o755);
      expect(readlinkSync(join(target, "link"))).toBe("a.txt");
      expect(git(target, "rev-parse", "HEAD")).toBe(head);
      expect(git(target, "status", "--porcelain")).toBe("");
      expect(diffFilesQuiet(target)).toBe(0);
    }
    // Copies, not links: a job editing a file in place changes only its own checkout.
    const [, , third, fourth] = targets as [string, string, string, string];
    expect(lstatSync(join(third, "a.txt")).ino).not.toBe(lstatSync(join(fourth, "a.txt")).ino);
    writeFileSync(join(third, "a.txt"), "edited by the third job\n");
    expect(readFileSync(join(fourth, "a.txt"), "utf8")).toBe("a\n");
    expect(git(third, "status", "--porcelain")).toBe("M a.txt");
    // The template stays pristine for the next copy.
    const template = readdirSync(spareDir).find((name) => name.includes("-template-")) ?? "";
    expect(readFileSync(join(spareDir, template, "a.txt"), "utf8")).toBe("a\n");
  });

  it("keeps the working tree changes visible as changes in every copy", async () => {
    writeFileSync(join(repo, "a.txt"), "a, changed\n");
    rmSync(join(repo, "deep", "er", "b.txt"));
    chmodSync(join(repo, "run.sh"), 0o644);
    const targets = await fourCheckouts(true);
    for (const target of targets) {
      expect(readFileSync(join(target, "a.txt"), "utf8")).toBe("a, changed\n");
      expect(
        git(target, "status", "--porcelain")
          .split("\n")
          .map((line) => line.trim())
          .sort(),
      ).toEqual(["D deep/er/b.txt", "M a.txt", "M run.sh"]);
      expect(diffFilesQuiet(target)).toBe(1);
    }
  });

  it("makes the template while the pipeline is planned; the first job is a copy of it", async () => {
    writeFileSync(join(repo, "a.txt"), "a, changed\n");
    await warmUpSources({ repoDir: repo, spareDir, includeWorkingTreeChanges: true });
    const [template] = readdirSync(spareDir);
    expect(template).toMatch(/^\d+-template-/);
    const target = join(root, "builds", "0", "project");
    await localCheckout(repo, head, { target, includeWorkingTreeChanges: true });
    // A copy: the template's files are other inodes.
    const copied = lstatSync(join(target, "deep", "er", "b.txt")).ino;
    expect(copied).not.toBe(lstatSync(join(spareDir, template ?? "", "deep", "er", "b.txt")).ino);
    expect(readFileSync(join(target, "a.txt"), "utf8")).toBe("a, changed\n");
    expect(git(target, "status", "--porcelain")).toBe("M a.txt");
    expect(git(target, "rev-parse", "refs/remotes/origin/main")).toBe(head);
  });
});
