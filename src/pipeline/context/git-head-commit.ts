import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseCommit, type ParsedCommit } from "./git-commit.ts";
import { refObject } from "./git-files.ts";
import { readGitObject } from "./git-objects.ts";
import { locateRepository, readText, type GitRepository } from "./git-repository.ts";

/** Settings that make `git log` convert commit text to another encoding than UTF-8. */
const outputEncoding = /logoutputencoding|commitencoding/i;

/** The user's and the system's git configuration files, as git finds them. */
function userConfigFiles(): string[] {
  const env = process.env;
  const files: string[] = [];
  if (env["GIT_CONFIG_GLOBAL"] !== undefined) files.push(env["GIT_CONFIG_GLOBAL"]);
  else if (env["HOME"] !== undefined) {
    files.push(join(env["HOME"], ".gitconfig"));
    files.push(join(env["XDG_CONFIG_HOME"] ?? join(env["HOME"], ".config"), "git", "config"));
  }
  if (env["GIT_CONFIG_NOSYSTEM"] === undefined) {
    files.push(env["GIT_CONFIG_SYSTEM"] ?? "/etc/gitconfig");
  }
  return files;
}

function hasReplaceRefs(repo: GitRepository): boolean {
  const loose = join(repo.commonDir, "refs", "replace");
  if (existsSync(loose) && readdirSync(loose).length > 0) return true;
  return readText(join(repo.commonDir, "packed-refs"))?.includes(" refs/replace/") === true;
}

/**
 * Whether git would show HEAD's commit otherwise than it is stored: replace refs, grafts, or
 * a shallow clone that cut its parents off.
 */
function historyIsRewritten(repo: GitRepository, sha: string): boolean {
  if (hasReplaceRefs(repo)) return true;
  if ((readText(join(repo.commonDir, "info", "grafts")) ?? "").trim() !== "") return true;
  return (readText(join(repo.commonDir, "shallow")) ?? "").split("\n").includes(sha);
}

function headSha(repo: GitRepository): string | undefined {
  const head = readText(join(repo.gitDir, "HEAD"))?.trim();
  if (head === undefined) return undefined;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const branch = /^ref: (refs\/heads\/\S+)$/.exec(head)?.[1];
  const sha = branch === undefined ? undefined : refObject(repo.commonDir, branch);
  return sha !== undefined && /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
}

/**
 * HEAD's commit read from the object store of the repository whose top is `repoDir`, as
 * `git log -1 HEAD` shows it: spawning git costs pier several milliseconds of its main thread.
 * Undefined when git must be asked (anything the files alone cannot answer exactly).
 */
export function headCommitFromFiles(
  repoDir: string,
  repo = locateRepository(repoDir),
): { sha: string; commit: ParsedCommit } | undefined {
  try {
    return repo === undefined ? undefined : readHeadCommit(repo);
  } catch {
    // A folder that cannot be listed, a file that vanished while read: git will say.
    return undefined;
  }
}

function readHeadCommit(repo: GitRepository): { sha: string; commit: ParsedCommit } | undefined {
  if (outputEncoding.test(repo.config)) return undefined;
  if (userConfigFiles().some((file) => outputEncoding.test(readText(file) ?? ""))) {
    return undefined;
  }
  const sha = headSha(repo);
  if (sha === undefined || historyIsRewritten(repo, sha)) return undefined;
  const object = readGitObject(join(repo.commonDir, "objects"), sha);
  if (object?.type !== "commit") return undefined;
  const commit = parseCommit(object.data);
  return commit === undefined ? undefined : { sha, commit };
}
