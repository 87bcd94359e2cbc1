import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { runGit } from "./run-git.ts";

export interface RepositoryLayout {
  /** The working tree's top directory. */
  topLevel: string;
  /** Where the objects live (shared with linked worktrees). */
  objectsDir: string;
  /** The repository's own .git/shallow (it may be a shallow clone itself). */
  shallowFile: string;
  /** The commit HEAD points at; "" for an unborn branch. */
  head: string;
  /** The index, when the layout was read from the files (see worktreeMatchesHead). */
  indexFile?: string;
}

/**
 * Where a repository keeps its objects and what HEAD is. Read from the files directly for
 * the common layouts (a spawn costs 10-20 ms, a job checkout aims at tens of ms), synchronously
 * (a handful of tiny files); anything unusual (a subdirectory, reftable, odd refs) is asked of
 * git.
 */
export async function repositoryLayout(
  repoDir: string,
  signal?: AbortSignal,
): Promise<RepositoryLayout> {
  return readLayoutFromFiles(resolve(repoDir)) ?? (await askGit(repoDir, signal));
}

function readLayoutFromFiles(repoDir: string): RepositoryLayout | undefined {
  try {
    const dotGit = join(repoDir, ".git");
    const dotGitStats = statSync(dotGit);
    let gitDir = dotGit;
    if (dotGitStats.isFile()) {
      const match = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, "utf8"));
      if (match?.[1] === undefined) return undefined;
      gitDir = resolve(repoDir, match[1].trim());
    }
    const commonDirText = readOptional(join(gitDir, "commondir"));
    const commonDir = commonDirText === undefined ? gitDir : resolve(gitDir, commonDirText.trim());
    const config = readFileSync(join(commonDir, "config"), "utf8");
    if (
      /refstorage|worktreeconfig|objectformat/i.test(config) ||
      /^\s*bare\s*=\s*true/im.test(config)
    )
      return undefined;
    const head = resolveHead(gitDir, commonDir);
    if (head === undefined) return undefined;
    return {
      topLevel: repoDir,
      objectsDir: join(commonDir, "objects"),
      shallowFile: join(commonDir, "shallow"),
      head,
      indexFile: join(gitDir, "index"),
    };
  } catch {
    return undefined;
  }
}

const objectId = /^[0-9a-f]{40}$/;

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function resolveHead(gitDir: string, commonDir: string): string | undefined {
  let content = readFileSync(join(gitDir, "HEAD"), "utf8").trim();
  for (let hops = 0; hops < 5; hops++) {
    if (objectId.test(content)) return content;
    const symbolic = /^ref: (refs\/\S+)$/.exec(content);
    if (symbolic?.[1] === undefined) return undefined;
    const ref = symbolic[1];
    const loose = readOptional(join(gitDir, ref)) ?? readOptional(join(commonDir, ref));
    if (loose !== undefined) {
      content = loose.trim();
      continue;
    }
    const packed = readOptional(join(commonDir, "packed-refs")) ?? "";
    const line = packed.split("\n").find((l) => l.endsWith(` ${ref}`));
    // An unborn branch (fresh `git init`) has no commit yet.
    return line === undefined ? "" : line.slice(0, 40);
  }
  return undefined;
}

async function askGit(repoDir: string, signal?: AbortSignal): Promise<RepositoryLayout> {
  const { stdout } = await runGit(
    [
      "rev-parse",
      "--path-format=absolute",
      "--git-path",
      "objects",
      "--git-path",
      "shallow",
      "--show-toplevel",
      "HEAD",
    ],
    { cwd: repoDir, ...(signal === undefined ? {} : { signal }) },
  );
  const [objectsDir = "", shallowFile = "", topLevel = "", head = ""] = stdout
    .toString("utf8")
    .trim()
    .split("\n");
  return { objectsDir, shallowFile, topLevel, head };
}
