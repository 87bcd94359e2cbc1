import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SelfContainedPacks } from "../../src/executors/docker/self-contained-packs.ts";
import { sweepStateDir } from "../../src/gc/state-sweep.ts";
import { packsRoot } from "../../src/storage/state-dir.ts";
import { git } from "../support/git.ts";

let root: string;
let source: string;
let stateDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-packs-test-"));
  source = join(root, "source");
  stateDir = join(root, "state");
  mkdirSync(source);
  git(source, "init", "-q", "-b", "main");
  for (let i = 0; i < 3; i += 1) {
    writeFileSync(join(source, "file.txt"), `version ${String(i)}\n`);
    git(source, "add", ".");
    git(source, "commit", "-qm", `commit ${String(i)}`);
  }
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

let snapshots = 0;

/** A snapshot as local mode makes it: objects borrowed through alternates, HEAD detached. */
function snapshot(sha: string): string {
  snapshots += 1;
  const dir = join(root, `snapshot-${String(snapshots)}`);
  git(root, "clone", "-q", "--shared", "--no-checkout", source, dir);
  git(dir, "checkout", "-q", "--detach", sha);
  return dir;
}

function selfContained(dir: string): boolean {
  return (
    !existsSync(join(dir, ".git", "objects", "info", "alternates")) &&
    spawnSync("git", ["fsck", "--connectivity-only"], { cwd: dir }).status === 0
  );
}

function withoutGit<T>(work: () => Promise<T>): Promise<T> {
  const path = process.env["PATH"];
  process.env["PATH"] = join(root, "no-git-here");
  return work().finally(() => {
    process.env["PATH"] = path;
  });
}

describe("self-contained packs for local snapshots", () => {
  it("packs a snapshot once and copies the kept pack into later snapshots of the commit, in a new process too", async () => {
    const head = git(source, "rev-parse", "HEAD");
    const first = snapshot(head);
    await new SelfContainedPacks(stateDir).apply(first, AbortSignal.timeout(30_000));
    expect(selfContained(first)).toBe(true);
    expect(readdirSync(packsRoot(stateDir))).toHaveLength(1);

    // A later pier (a new instance) needs no git for the same commit: git is not even found.
    const second = snapshot(head);
    await withoutGit(() =>
      new SelfContainedPacks(stateDir).apply(second, AbortSignal.timeout(30_000)),
    );
    expect(selfContained(second)).toBe(true);

    // Another commit is another pack; without git it cannot be made.
    const older = snapshot(git(source, "rev-parse", "HEAD~1"));
    await expect(
      withoutGit(() => new SelfContainedPacks(stateDir).apply(older, AbortSignal.timeout(30_000))),
    ).rejects.toThrow();
    await new SelfContainedPacks(stateDir).apply(older, AbortSignal.timeout(30_000));
    expect(selfContained(older)).toBe(true);
    expect(readdirSync(packsRoot(stateDir))).toHaveLength(2);
  });

  it("never copies half a kept pack (one another pier is removing): it packs afresh", async () => {
    const head = git(source, "rev-parse", "HEAD");
    await new SelfContainedPacks(stateDir).apply(snapshot(head), AbortSignal.timeout(30_000));
    const [kept = ""] = readdirSync(packsRoot(stateDir));
    for (const name of readdirSync(join(packsRoot(stateDir), kept))) {
      if (name.endsWith(".pack")) rmSync(join(packsRoot(stateDir), kept, name));
    }
    const second = snapshot(head);
    await new SelfContainedPacks(stateDir).apply(second, AbortSignal.timeout(30_000));
    expect(selfContained(second)).toBe(true);
  });

  it("keeps at most 16 packs", async () => {
    const packs = new SelfContainedPacks(stateDir);
    for (let i = 0; i < 17; i += 1) {
      writeFileSync(join(source, "file.txt"), `more ${String(i)}\n`);
      git(source, "commit", "-qam", `more ${String(i)}`);
      await packs.apply(snapshot(git(source, "rev-parse", "HEAD")), AbortSignal.timeout(30_000));
    }
    expect(readdirSync(packsRoot(stateDir)).filter((name) => !name.startsWith("."))).toHaveLength(
      16,
    );
  });

  it("leaves a snapshot whose HEAD is not a commit id to git alone, keeping nothing", async () => {
    const dir = snapshot(git(source, "rev-parse", "HEAD"));
    git(dir, "checkout", "-q", "main");
    await new SelfContainedPacks(stateDir).apply(dir, AbortSignal.timeout(30_000));
    expect(selfContained(dir)).toBe(true);
    expect(existsSync(packsRoot(stateDir)) ? readdirSync(packsRoot(stateDir)) : []).toEqual([]);
  });

  it("has pier gc remove a draft whose pier is gone, and no other", async () => {
    const gone = spawnSync("true").pid;
    const drafts = packsRoot(stateDir);
    mkdirSync(join(drafts, `.draft-${String(gone)}-abc`), { recursive: true });
    mkdirSync(join(drafts, `.draft-${String(process.pid)}-def`), { recursive: true });
    const actions = await sweepStateDir(stateDir);
    expect(actions.map((action) => action.name)).toEqual([
      join(drafts, `.draft-${String(gone)}-abc`),
    ]);
    expect(readdirSync(drafts)).toEqual([`.draft-${String(process.pid)}-def`]);
  });
});
