import { existsSync, readFileSync, statSync, type Stats } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";

/**
 * Variables that make git look elsewhere than `<repoDir>/.git`, or read other objects,
 * refs or configuration than the files there: then git itself is asked.
 */
const locators = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_COMMON_DIR",
  "GIT_CONFIG",
  "GIT_CONFIG_PARAMETERS",
  "GIT_CONFIG_COUNT",
  "GIT_NAMESPACE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_REPLACE_REF_BASE",
  "GIT_GRAFT_FILE",
  "GIT_SHALLOW_FILE",
];

/**
 * Configuration that changes what the files mean: includes (other files to read), ref
 * storage other than files, per-worktree configuration, a work tree elsewhere, a bare
 * repository, an object format other than SHA-1, a repository format newer than git's
 * extensions version.
 */
const unusualConfig =
  /^\s*\[\s*include|refstorage|worktreeconfig|^\s*worktree\s*=|^\s*bare\s*=\s*true|objectformat\s*=(?!\s*sha1\s*$)|repositoryformatversion\s*=(?!\s*[01]\s*$)/im;

export interface GitRepository {
  /** The worktree's own files (HEAD): `.git`, or `<common>/worktrees/<name>` for a linked worktree. */
  gitDir: string;
  /** Objects, refs and configuration: the gitDir unless its `commondir` file points elsewhere. */
  commonDir: string;
  config: string;
}

/**
 * A file's text, undefined when it is missing or unreadable. Most files asked for are
 * optional and absent: existsSync answers that without the cost of a thrown error.
 */
export function readText(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function statOf(path: string): Stats | undefined {
  return statSync(path, { throwIfNoEntry: false });
}

/**
 * The repository whose work tree's top is `repoDir`: a `.git` folder, or a `.git` file
 * (`gitdir: …`, linked worktrees and submodules) with the `commondir` it names. Undefined when
 * git must be asked: an environment or configuration that points elsewhere, a directory that
 * is not the top, files owned by another user (git's safe.directory decides those).
 */
export function locateRepository(repoDir: string): GitRepository | undefined {
  if (locators.some((name) => process.env[name] !== undefined)) return undefined;
  const dotGit = join(repoDir, ".git");
  const dotGitStats = statOf(dotGit);
  if (dotGitStats === undefined) return undefined;
  let gitDir = dotGit;
  const owners = [dotGitStats.uid, statOf(repoDir)?.uid];
  if (!dotGitStats.isDirectory()) {
    const pointer = /^gitdir: (.+)\n?$/.exec(readText(dotGit) ?? "")?.[1];
    if (pointer === undefined) return undefined;
    gitDir = resolve(repoDir, pointer);
    const gitDirStats = statOf(gitDir);
    if (gitDirStats?.isDirectory() !== true) return undefined;
    owners.push(gitDirStats.uid);
  }
  const user = process.geteuid?.();
  if (user !== undefined) {
    if (user === 0 && process.env["SUDO_UID"] !== undefined) return undefined;
    if (owners.some((owner) => owner !== user)) return undefined;
  }
  const common = readText(join(gitDir, "commondir"))?.replace(/\n$/, "");
  const commonDir =
    common === undefined ? gitDir : isAbsolute(common) ? common : join(gitDir, common);
  const config = readText(join(commonDir, "config"));
  if (config === undefined || unusualConfig.test(config)) return undefined;
  return { gitDir, commonDir, config };
}
