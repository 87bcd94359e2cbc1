import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { JobGitInfo } from "../job/spec.ts";
import { PierError } from "../errors.ts";
import { removeAside } from "./remove-aside.ts";
import { repositoryLayout, type RepositoryLayout } from "./repository-layout.ts";
import { runGit } from "./run-git.ts";
import { shallowBoundary } from "./shallow-boundary.ts";
import { worktreeMatchesHead } from "./worktree-clean.ts";
import {
  copyFromCheckoutTemplate,
  keepSpareCheckout,
  startCheckoutTemplate,
  takeSpareCheckout,
  type MakeCheckout,
} from "./spare-checkouts.ts";

export type GitStrategy = "clone" | "fetch" | "none" | "empty";

export interface PrepareSourcesOptions {
  /** Local mode: the user's repository. Absent in runner mode (clone `gitInfo.repo_url`). */
  repoDir?: string;
  gitInfo: JobGitInfo;
  strategy: GitStrategy;
  /** GIT_DEPTH; 0 = full history. */
  depth: number;
  /** CI_PROJECT_DIR */
  target: string;
  /** Local mode: apply uncommitted changes to tracked files (only when `gitInfo.sha` is the repository's HEAD). */
  includeWorkingTreeChanges: boolean;
  /**
   * Local mode: a folder on the target's file system where the checkout for the next call with
   * the same repository and commit is made in the background, so that call only renames it
   * into place (see spare-checkouts.ts). Leave it out when no other job is expected.
   */
  spareDir?: string;
  /** GIT_CLEAN_FLAGS for the fetch strategy; gitlab-runner's default is -ffdx. "none" disables. */
  cleanFlags?: string[];
  signal?: AbortSignal;
}

/**
 * Puts the job's sources at `target` without ever writing to the user's working tree.
 *
 * Local mode builds a repository whose objects are borrowed from the user's (git alternates),
 * so nothing is copied or packed: writing a few files in .git and one `read-tree` (clone) or
 * `reset --hard` + `clean` (fetch) is the whole cost. GIT_DEPTH is honoured by writing the
 * .git/shallow file a shallow fetch would have written.
 */
export async function prepareSources(o: PrepareSourcesOptions): Promise<void> {
  const target = resolve(o.target);
  if (o.strategy === "none") {
    await mkdir(target, { recursive: true });
    return;
  }
  if (o.strategy === "empty") {
    await emptyDirectory(target);
    return;
  }
  if (o.repoDir === undefined) {
    await prepareFromRemote({ ...o, target });
    return;
  }
  await prepareFromLocal({ ...o, repoDir: o.repoDir, target });
}

async function prepareFromLocal(
  o: PrepareSourcesOptions & { repoDir: string; target: string },
): Promise<void> {
  const signalOption = o.signal === undefined ? {} : { signal: o.signal };
  const layout = await repositoryLayout(o.repoDir, o.signal);
  refuseInside(o.target, layout.topLevel);
  const changes =
    o.includeWorkingTreeChanges && layout.head === o.gitInfo.sha
      ? changedTrackedFilesOnce(layout, o.signal)
      : Promise.resolve([]);
  // Read before the checkout ends, so a failure here is not left as an unhandled rejection.
  changes.catch(() => undefined);

  const gitDir = join(o.target, ".git");
  const reuse = o.strategy === "fetch" && (await isRepository(gitDir));
  const withChanges = o.includeWorkingTreeChanges && layout.head === o.gitInfo.sha;
  const spareKey = JSON.stringify([o.repoDir, layout.objectsDir, o.gitInfo, withChanges]);
  const templateKey = templateKeyOf(o.repoDir, layout, o.gitInfo.sha, withChanges);
  const keepSpare = (): void => {
    if (o.spareDir === undefined) return;
    const make = makeCheckout(o.repoDir, layout, o.gitInfo.sha, changes);
    keepSpareCheckout(spareKey, o.spareDir, make, templateKey);
  };
  let checkedOut = false;
  if (!reuse) {
    await removeAside(o.target);
    checkedOut =
      (await takeSpareCheckout(spareKey, o.target)) ||
      (await copyFromCheckoutTemplate(templateKey, o.target));
    if (!checkedOut) await writeSkeleton(gitDir, o.repoDir);
  }
  await writeGitState(gitDir, o, layout, checkedOut);
  // After this job's own writes: the next spare's copying would queue ahead of them.
  if (checkedOut) keepSpare();
  if (reuse) {
    await runGit(["reset", "-q", "--hard", o.gitInfo.sha], { cwd: o.target, ...signalOption });
    const cleanFlags = o.cleanFlags ?? ["-ffdx"];
    if (!(cleanFlags.length === 1 && cleanFlags[0] === "none")) {
      await runGit(["clean", ...cleanFlags], { cwd: o.target, ...signalOption });
    }
  } else if (!checkedOut) {
    await runGit(["read-tree", "--reset", "-u", o.gitInfo.sha], { cwd: o.target, ...signalOption });
  }
  // A spare checkout has the same changes already.
  if (!checkedOut) {
    await copyChangedFiles(layout.topLevel, o.target, await changes);
    // Only now, so that the two git processes do not compete.
    keepSpare();
  }
}

function templateKeyOf(
  repoDir: string,
  layout: RepositoryLayout,
  sha: string,
  withChanges: boolean,
): string {
  return JSON.stringify([repoDir, layout.objectsDir, sha, withChanges]);
}

/**
 * How a template or spare checkout is made: by the background shell, since pier's main thread
 * is busy with the current job meanwhile. What differs between jobs (refs, shallow boundary)
 * is written when a job takes it.
 */
function makeCheckout(
  repoDir: string,
  layout: RepositoryLayout,
  sha: string,
  changes: Promise<TrackedChange[]>,
): MakeCheckout {
  return async (path, git) => {
    refuseInside(path, layout.topLevel);
    const { dirs, files } = skeleton(repoDir);
    const exitCode = await git.run(["read-tree", "--reset", "-u", sha], path, {
      dirs: dirs.map((dir) => join(".git", dir)),
      files: [
        ...files.map(([file, content]): [string, string] => [join(".git", file), content]),
        [join(".git", "objects", "info", "alternates"), `${layout.objectsDir}\n`],
        [join(".git", "HEAD"), `${sha}\n`],
      ],
    });
    if (exitCode !== 0) throw new Error(`git read-tree exited with ${String(exitCode)}`);
    const changed = await changes;
    await copyChangedFiles(layout.topLevel, path, changed);
    return changed.map((change) => change.path);
  };
}

/**
 * Local mode, while the pipeline is still being planned: starts reading the working tree's
 * changes and making the template the jobs' checkouts of HEAD are copied from (under
 * `spareDir`), so the first job does not wait for git. Does nothing for an unborn HEAD.
 */
export async function warmUpSources(o: {
  repoDir: string;
  spareDir: string;
  includeWorkingTreeChanges: boolean;
}): Promise<void> {
  const layout = await repositoryLayout(o.repoDir);
  if (layout.head === "") return;
  const changes = o.includeWorkingTreeChanges
    ? changedTrackedFilesOnce(layout)
    : Promise.resolve([]);
  changes.catch(() => undefined);
  const key = templateKeyOf(o.repoDir, layout, layout.head, o.includeWorkingTreeChanges);
  const make = makeCheckout(o.repoDir, layout, layout.head, changes);
  await startCheckoutTemplate(key, o.spareDir, make);
}

/**
 * What .git holds for this job: borrowed objects, its shallow boundary, its ref and HEAD.
 * A few tiny files, written synchronously: through libuv's thread pool each write would queue
 * behind the background copying of the next job's checkout. A spare checkout has the right
 * alternates and HEAD already (they are part of its key): rewriting a file in place on ext4
 * flushes it to disk on close (auto_da_alloc), milliseconds each.
 */
async function writeGitState(
  gitDir: string,
  o: PrepareSourcesOptions & { repoDir: string },
  layout: RepositoryLayout,
  fromSpare: boolean,
): Promise<void> {
  const boundary =
    o.depth > 0 ? await shallowBoundary(layout.topLevel, o.gitInfo.sha, o.depth) : [];
  if (!fromSpare) {
    writeFileSync(join(gitDir, "objects", "info", "alternates"), `${layout.objectsDir}\n`);
    writeFileSync(join(gitDir, "HEAD"), `${o.gitInfo.sha}\n`);
  }
  writeShallow(gitDir, boundary, layout.shallowFile);
  writeRefs(gitDir, o.gitInfo);
}

/** CI_PROJECT_DIR inside the user's working tree would write into it; refuse outright. */
function refuseInside(target: string, topLevel: string): void {
  if (topLevel === "") return;
  const realTop = realpathSync.native(topLevel);
  let existing = target;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const realTarget = join(realpathSync.native(existing), relative(existing, target));
  const fromTop = relative(realTop, realTarget);
  if (fromTop === "" || (!fromTop.startsWith("..") && !isAbsolute(fromTop))) {
    throw new PierError(
      `refusing to check out sources inside the working tree ${topLevel}: ${target}`,
    );
  }
}

/** The folders and files of a fresh .git (paths relative to it), as `git init` would make them. */
function skeleton(originUrl: string): { dirs: string[]; files: Array<[string, string]> } {
  const config = [
    "[core]",
    "\trepositoryformatversion = 0",
    "\tfilemode = true",
    "\tbare = false",
    "\tlogallrefupdates = true",
    '[remote "origin"]',
    `\turl = ${quoteConfigValue(originUrl)}`,
    "\tfetch = +refs/heads/*:refs/remotes/origin/*",
    "",
  ].join("\n");
  return {
    dirs: ["objects/info", "refs/heads", "refs/tags"],
    files: [
      ["config", config],
      ["description", "pier job checkout\n"],
    ],
  };
}

async function writeSkeleton(gitDir: string, originUrl: string): Promise<void> {
  const { dirs, files } = skeleton(originUrl);
  await mkdir(join(gitDir, "objects", "info"), { recursive: true });
  await Promise.all([
    ...dirs.map((dir) => mkdir(join(gitDir, dir), { recursive: true })),
    ...files.map(([path, content]) => writeFile(join(gitDir, path), content)),
  ]);
}

function quoteConfigValue(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function writeShallow(gitDir: string, boundary: readonly string[], sourceShallow: string): void {
  // The source may be shallow itself; its boundary must stay, or git looks for missing parents.
  const inherited = (existsSync(sourceShallow) ? readFileSync(sourceShallow, "utf8") : "")
    .split("\n")
    .filter((l) => l !== "");
  const all = [...new Set([...inherited, ...boundary])].sort();
  const path = join(gitDir, "shallow");
  if (all.length === 0) rmSync(path, { force: true });
  else writeFileSync(path, `${all.join("\n")}\n`);
}

/** The refs gitlab-runner's refspecs create: origin's branch, or the tag. */
function writeRefs(gitDir: string, gitInfo: JobGitInfo): void {
  if (
    !/^[^\0\s~^:?*[\\]+$/.test(gitInfo.ref) ||
    gitInfo.ref.includes("..") ||
    gitInfo.ref.startsWith("/")
  )
    return;
  const ref =
    gitInfo.ref_type === "tag"
      ? join(gitDir, "refs", "tags", gitInfo.ref)
      : join(gitDir, "refs", "remotes", "origin", gitInfo.ref);
  mkdirSync(dirname(ref), { recursive: true });
  writeFileSync(ref, `${gitInfo.sha}\n`);
}

interface TrackedChange {
  status: string;
  path: string;
}

/**
 * The working tree's changes are read once per process for a given HEAD: every job of a local
 * pipeline gets the same snapshot of the user's edits (as every job of a GitLab pipeline gets
 * the same commit), and a job saves a git process.
 */
const changesByHead = new Map<string, Promise<TrackedChange[]>>();

function changedTrackedFilesOnce(
  layout: RepositoryLayout,
  signal?: AbortSignal,
): Promise<TrackedChange[]> {
  const key = `${layout.topLevel}\0${layout.head}`;
  let changes = changesByHead.get(key);
  if (changes === undefined) {
    changes =
      worktreeMatchesHead(layout) === true
        ? Promise.resolve([])
        : changedTrackedFiles(layout.topLevel, signal);
    changesByHead.set(key, changes);
    changes.catch(() => changesByHead.delete(key));
  }
  return changes;
}

/** Tracked files whose working tree content differs from HEAD (staged or not), deletions included. */
async function changedTrackedFiles(
  topLevel: string,
  signal?: AbortSignal,
): Promise<TrackedChange[]> {
  const { stdout } = await runGit(
    [
      "diff",
      "HEAD",
      "--name-status",
      "-z",
      "--no-renames",
      "--no-ext-diff",
      "--ignore-submodules=all",
    ],
    { cwd: topLevel, ...(signal === undefined ? {} : { signal }) },
  );
  const fields = stdout.toString("utf8").split("\0");
  const changes: TrackedChange[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    changes.push({ status: fields[i] ?? "", path: fields[i + 1] ?? "" });
  }
  return changes;
}

/**
 * Copies the working tree's version of each changed tracked file (file, symlink or
 * deletion) into the checkout. Copying instead of `git apply` saves a process and applies
 * binary files and mode changes exactly as they are on disk.
 */
async function copyChangedFiles(
  topLevel: string,
  target: string,
  changes: TrackedChange[],
): Promise<void> {
  await Promise.all(
    changes.map(async ({ path }) => {
      const source = join(topLevel, path);
      const destination = join(target, path);
      const stats = await lstat(source).catch(() => undefined);
      await rm(destination, { force: true, recursive: true });
      if (stats === undefined) return;
      await mkdir(dirname(destination), { recursive: true });
      if (stats.isSymbolicLink()) {
        await symlink(await readlink(source), destination);
      } else if (stats.isFile()) {
        await copyFile(source, destination);
        await chmod(destination, stats.mode & 0o7777);
      }
    }),
  );
}

async function prepareFromRemote(o: PrepareSourcesOptions & { target: string }): Promise<void> {
  const signalOption = o.signal === undefined ? {} : { signal: o.signal };
  const gitDir = join(o.target, ".git");
  const reuse = o.strategy === "fetch" && (await isRepository(gitDir));
  // What `git init` and `git remote add` (or `set-url`) would write, without two processes.
  if (!reuse) {
    await removeAside(o.target);
    await writeSkeleton(gitDir, o.gitInfo.repo_url);
    await writeFile(join(gitDir, "HEAD"), "ref: refs/heads/main\n");
  } else {
    const { files } = skeleton(o.gitInfo.repo_url);
    await Promise.all(files.map(([path, content]) => writeFile(join(gitDir, path), content)));
  }
  const refspecs =
    o.gitInfo.refspecs.length > 0
      ? o.gitInfo.refspecs
      : [
          o.gitInfo.ref_type === "tag"
            ? `+refs/tags/${o.gitInfo.ref}:refs/tags/${o.gitInfo.ref}`
            : `+refs/heads/${o.gitInfo.ref}:refs/remotes/origin/${o.gitInfo.ref}`,
        ];
  await runGit(
    [
      "fetch",
      "-q",
      "--prune",
      "--no-recurse-submodules",
      ...(o.depth > 0 ? [`--depth=${String(o.depth)}`] : []),
      "origin",
      ...refspecs,
    ],
    { cwd: o.target, ...signalOption },
  );
  await runGit(["checkout", "-f", "-q", "--detach", o.gitInfo.sha], {
    cwd: o.target,
    ...signalOption,
  });
  const cleanFlags = o.cleanFlags ?? ["-ffdx"];
  if (reuse && !(cleanFlags.length === 1 && cleanFlags[0] === "none")) {
    await runGit(["clean", ...cleanFlags], { cwd: o.target, ...signalOption });
  }
}

async function isRepository(gitDir: string): Promise<boolean> {
  return (await exists(join(gitDir, "HEAD"))) && (await exists(join(gitDir, "objects")));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function emptyDirectory(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(
    (await readdir(dir)).map((name) => rm(join(dir, name), { recursive: true, force: true })),
  );
}
