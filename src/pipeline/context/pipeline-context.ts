import { readdirSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { filesMatchExists } from "../rules/exists.ts";
import { gitOutput, gitOutputAsync, splitNul } from "./git.ts";
import {
  originUrlFromFiles,
  refsFromFiles,
  tagContentsFromFiles,
  topLevelFromFiles,
} from "./git-files.ts";
import { headCommitFromFiles } from "./git-head-commit.ts";
import { locateRepository, type GitRepository } from "./git-repository.ts";
import { projectIdentity } from "./project-identity.ts";
import { slugify } from "./slugify.ts";

export interface PipelineContextOptions {
  repoDir: string;
  /** A branch or tag name; a branch when both exist, as GitLab's ref lookup. */
  ref?: string;
  branch?: string;
  tag?: string;
  /** CI_PIPELINE_SOURCE, default `push`. */
  source?: string;
  pipelineId?: number;
  pipelineIid?: number;
  /** CI_REGISTRY, default `registry.pier.local`. */
  registry?: string;
  /** CI_REGISTRY_IMAGE, default `<registry>/<project path>` in lowercase. */
  registryImage?: string;
  /** CI_SERVER_URL, default the `origin` remote's host, else `https://gitlab.pier.local`. */
  serverUrl?: string;
  /** CI_COMMIT_REF_PROTECTED, default true for the default branch only. */
  refProtected?: boolean;
  /**
   * Count uncommitted and untracked (not ignored) files in `rules:changes` and
   * `rules:exists`, for runs that use the working tree rather than HEAD. Default false.
   */
  includeWorkingTreeChanges?: boolean;
  now?: Date;
}

export interface CommitInfo {
  message: string;
  title: string;
  description: string;
  /** `Name <email>`. */
  author: string;
  authorName: string;
  authorEmail: string;
  /** ISO 8601, UTC. */
  timestamp: string;
}

export interface ProjectInfo {
  /** Last path segment (CI_PROJECT_NAME). */
  name: string;
  /** `namespace/name` (CI_PROJECT_PATH). */
  path: string;
  namespace: string;
  /** `<server>/<path>` (CI_PROJECT_URL). */
  url: string;
  pathSlug: string;
  /** The repository's top-level directory on this machine. */
  dir: string;
}

export interface PipelineContext {
  repoDir: string;
  /** Whether repoDir is a git repository with at least one commit. */
  isGitRepository: boolean;
  sha: string;
  shortSha: string;
  /** 40 zeros when there is no previous push to compare with (new branch, tag, not a push). */
  beforeSha: string;
  refName: string;
  refType: "branch" | "tag";
  refProtected: boolean;
  /** Message of an annotated tag (tag pipelines). */
  tagMessage: string;
  defaultBranch: string;
  source: string;
  pipelineId: number;
  pipelineIid: number;
  /** ISO 8601, UTC, seconds. */
  createdAt: string;
  registry: string;
  registryImage: string;
  serverUrl: string;
  commit: CommitInfo;
  project: ProjectInfo;
  /** How the context was derived where it had to guess (no git, detached HEAD, unknown ref…). */
  notes: string[];
  /**
   * True when `rules:changes` without `compare_to` holds whatever the paths: GitLab has no diff
   * to look at for tags, new branches, and pipelines that are not pushes.
   */
  changesAlwaysMatch: boolean;
  /**
   * Paths changed, for `rules:changes`. With `compareTo` (a branch, tag or sha): the diff
   * from the merge base of compareTo and sha to sha (throws RefNotFoundError for an unknown
   * ref). Without: the push's diff beforeSha..sha, or for merge request pipelines the diff
   * from the default branch's merge base; [] when changesAlwaysMatch.
   */
  changedFiles: (compareTo?: string) => string[];
  /** The repository's files at sha, sorted (for `rules:exists`). */
  repositoryFiles: () => readonly string[];
  /** Whether any glob matches a repository file, with GitLab's `rules:exists` semantics. */
  fileExists: (globs: string[]) => boolean;
}

export const ZERO_SHA = "0000000000000000000000000000000000000000";
export const DEFAULT_REGISTRY = "registry.pier.local";
export const DEFAULT_SERVER_URL = "https://gitlab.pier.local";

/** A `compare_to` that names no commit: GitLab fails the pipeline with this. */
export class RefNotFoundError extends Error {
  constructor(ref: string) {
    super(`rules:changes:compare_to is not a valid ref: ${ref}`);
    this.name = "RefNotFoundError";
  }
}

// Pipeline ids made up locally: milliseconds since 2024-01-01, bumped to stay unique in a process.
const LOCAL_ID_EPOCH = Date.UTC(2024, 0, 1);
let lastLocalId = 0;
function localPipelineId(now: Date): number {
  lastLocalId = Math.max(lastLocalId + 1, now.getTime() - LOCAL_ID_EPOCH);
  return lastLocalId;
}

interface RefInfo {
  heads: Map<string, string>;
  tags: Map<string, string>;
  originBranches: Map<string, string>;
  originHead: string | undefined;
}

function emptyRefs(): RefInfo {
  return { heads: new Map(), tags: new Map(), originBranches: new Map(), originHead: undefined };
}

function parseRefs(output: string | undefined): RefInfo {
  const refs = emptyRefs();
  for (const line of (output ?? "").split("\n")) {
    if (line === "") continue;
    const [name = "", object = "", peeled = "", symref = ""] = line.split("\0");
    if (name.startsWith("refs/heads/")) refs.heads.set(name.slice(11), object);
    else if (name.startsWith("refs/tags/")) refs.tags.set(name.slice(10), peeled || object);
    else if (name === "refs/remotes/origin/HEAD") {
      if (symref.startsWith("refs/remotes/origin/")) refs.originHead = symref.slice(20);
    } else if (name.startsWith("refs/remotes/origin/"))
      refs.originBranches.set(name.slice(20), object);
  }
  return refs;
}

function commitInfo(
  message: string,
  authorName: string,
  authorEmail: string,
  date: string,
): CommitInfo {
  // GitLab's Commit#full_title and #description: the first line; the rest after the first
  // "\n" with one trailing newline removed, or the whole message when the title is 100+ long.
  const title = message.split(/[\r\n]/, 1)[0] ?? "";
  const newline = message.indexOf("\n");
  const description =
    title.length >= 100
      ? message
      : newline === -1
        ? ""
        : message.slice(newline + 1).replace(/\r?\n$/, "");
  const parsed = date ? new Date(date) : undefined;
  return {
    message,
    title,
    description,
    author: authorName || authorEmail ? `${authorName} <${authorEmail}>` : "",
    authorName,
    authorEmail,
    timestamp: parsed && !Number.isNaN(parsed.getTime()) ? isoSeconds(parsed) : "",
  };
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The output of the git commands every pipeline context needs (undefined: git failed). */
interface GitFacts {
  /** `rev-parse --show-toplevel --symbolic-full-name HEAD`: undefined outside a repository. */
  topLevel: string | undefined;
  log: string | undefined;
  refs: string | undefined;
  originUrl: string | undefined;
}

const topLevelArgs = ["rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD"];
const logArgs = ["log", "-1", "-z", "--format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%B", "HEAD"];
const refsArgs = [
  "for-each-ref",
  "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(symref)",
  "refs/heads",
  "refs/tags",
  "refs/remotes/origin",
];
const originUrlArgs = ["config", "--get", "remote.origin.url"];

/** What `git <logArgs>` prints, from HEAD's commit read from the object store. */
function logFromFiles(repoDir: string, repo: GitRepository | undefined): string | undefined {
  const head = headCommitFromFiles(repoDir, repo);
  if (head === undefined) return undefined;
  const { authorName, authorEmail, committerDate, message, parents } = head.commit;
  const fields = [head.sha, parents.join(" "), authorName, authorEmail, committerDate, message];
  return `${fields.join("\0")}\0`;
}

function readGitFacts(repoDir: string): GitFacts {
  const repo = locateRepository(repoDir);
  const topLevel = topLevelFromFiles(repoDir, repo) ?? gitOutput(repoDir, topLevelArgs);
  if (!topLevel) return { topLevel, log: undefined, refs: undefined, originUrl: undefined };
  return {
    topLevel,
    log: logFromFiles(repoDir, repo) ?? gitOutput(repoDir, logArgs),
    refs: refsFromFiles(repoDir, repo) ?? gitOutput(repoDir, refsArgs),
    originUrl: (originUrlFromFiles(repoDir, repo) ?? { url: gitOutput(repoDir, originUrlArgs) })
      .url,
  };
}

/**
 * readGitFacts with the git commands running at once. What repositories keep in files (HEAD,
 * refs, origin's URL, HEAD's commit) is read from them: every spawn forks pier's process, which
 * costs milliseconds of its main thread; git is asked only where the files are not enough.
 */
async function readGitFactsConcurrently(repoDir: string): Promise<GitFacts> {
  const orAsk = (value: string | undefined, args: string[]): Promise<string | undefined> =>
    value !== undefined ? Promise.resolve(value) : gitOutputAsync(repoDir, args);
  const repo = locateRepository(repoDir);
  const origin = originUrlFromFiles(repoDir, repo);
  const [topLevel, log, refs, originUrl] = await Promise.all([
    orAsk(topLevelFromFiles(repoDir, repo), topLevelArgs),
    orAsk(logFromFiles(repoDir, repo), logArgs),
    orAsk(refsFromFiles(repoDir, repo), refsArgs),
    origin !== undefined ? Promise.resolve(origin.url) : gitOutputAsync(repoDir, originUrlArgs),
  ]);
  if (!topLevel) return { topLevel, log: undefined, refs: undefined, originUrl: undefined };
  return { topLevel, log, refs, originUrl };
}

/**
 * Reads what a pipeline needs to know about the repository: a handful of read-only git
 * commands, run once (diffs and file lists are read lazily and cached). The pipeline runs on
 * HEAD's commit: `ref`/`branch`/`tag` only name the ref, so uncommitted changes and the
 * checked-out commit stay what they are. Outside a git repository (or before the first commit)
 * the sha is 40 zeros, the ref is the given one or `main`, and a note says so.
 */
export function readPipelineContext(options: PipelineContextOptions): PipelineContext {
  return contextFromGitFacts(options, readGitFacts(resolve(options.repoDir)));
}

/** readPipelineContext, with its git commands run concurrently (less waiting at start-up). */
export async function loadPipelineContext(
  options: PipelineContextOptions,
): Promise<PipelineContext> {
  return contextFromGitFacts(options, await readGitFactsConcurrently(resolve(options.repoDir)));
}

function contextFromGitFacts(options: PipelineContextOptions, facts: GitFacts): PipelineContext {
  const repoDir = resolve(options.repoDir);
  const now = options.now ?? new Date();
  const notes: string[] = [];

  const { topLevel, log } = facts;
  const [topLine = "", headRef = ""] = (topLevel ?? "").split("\n");
  const projectDir = topLine ? resolve(topLine) : repoDir;
  const isGitRepository = log !== undefined && log !== "";
  if (!topLevel)
    notes.push(`${repoDir} is not a git repository: commit variables are placeholders`);
  else if (!isGitRepository)
    notes.push("the repository has no commit yet: commit variables are placeholders");

  const [sha = ZERO_SHA, parents = "", authorName = "", authorEmail = "", date = "", message = ""] =
    isGitRepository ? (log ?? "").split("\0") : [];
  const parent = parents.split(" ")[0] || undefined;
  const refs = topLevel ? parseRefs(facts.refs) : emptyRefs();
  const originUrl = topLevel ? facts.originUrl?.trim() : undefined;

  const currentBranch = headRef.startsWith("refs/heads/") ? headRef.slice(11) : undefined;
  const defaultBranch =
    refs.originHead ??
    (refs.heads.has("main") ? "main" : refs.heads.has("master") ? "master" : undefined) ??
    currentBranch ??
    "main";

  let refType: "branch" | "tag" = "branch";
  let refName: string;
  if (options.tag !== undefined) {
    refType = "tag";
    refName = options.tag;
  } else if (options.branch !== undefined) {
    refName = options.branch;
  } else if (options.ref !== undefined) {
    refName = options.ref;
    if (!refs.heads.has(refName) && !refs.originBranches.has(refName) && refs.tags.has(refName))
      refType = "tag";
  } else if (currentBranch !== undefined) {
    refName = currentBranch;
  } else {
    const tagAtHead = [...refs.tags].find(([, commit]) => commit === sha)?.[0];
    if (tagAtHead !== undefined && isGitRepository) {
      refType = "tag";
      refName = tagAtHead;
      notes.push(`detached HEAD at tag ${tagAtHead}: running a tag pipeline`);
    } else {
      refName = defaultBranch;
      if (topLevel) notes.push(`detached HEAD: running as branch ${defaultBranch}`);
    }
  }
  const namedCommit =
    refType === "tag"
      ? refs.tags.get(refName)
      : (refs.heads.get(refName) ?? refs.originBranches.get(refName));
  if (
    isGitRepository &&
    (options.tag ?? options.branch ?? options.ref) !== undefined &&
    namedCommit === undefined
  ) {
    notes.push(
      `${refType} ${refName} does not exist in the repository: its name is used with HEAD (${sha.slice(0, 8)})`,
    );
  } else if (isGitRepository && namedCommit !== undefined && namedCommit !== sha) {
    notes.push(
      `${refType} ${refName} points to ${namedCommit.slice(0, 8)}; the pipeline runs HEAD (${sha.slice(0, 8)})`,
    );
  }

  const source = options.source ?? "push";
  let beforeSha = ZERO_SHA;
  if (isGitRepository && refType === "branch" && source === "push") {
    const pushed = refs.originBranches.get(refName);
    if (pushed !== undefined && pushed !== sha) beforeSha = pushed;
    else if (pushed !== undefined || originUrl === undefined) beforeSha = parent ?? ZERO_SHA;
    // A branch the origin remote does not have yet is a new branch: no diff, like GitLab.
  }

  const tagMessage =
    refType === "tag" && refs.tags.has(refName)
      ? (
          tagContentsFromFiles(repoDir, refName) ??
          gitOutput(repoDir, ["tag", "-l", "--format=%(contents)", refName]) ??
          ""
        ).replace(/\n+$/, "")
      : "";

  const identity = projectIdentity(originUrl, projectDir);
  const serverUrl = (options.serverUrl ?? identity.serverUrl ?? DEFAULT_SERVER_URL).replace(
    /\/+$/,
    "",
  );
  const registry = options.registry ?? DEFAULT_REGISTRY;
  const pipelineId = options.pipelineId ?? localPipelineId(now);
  const isMergeRequest = source === "merge_request_event";
  const changesAlwaysMatch = !isGitRepository || (isMergeRequest ? false : beforeSha === ZERO_SHA);
  const withWorkingTree = options.includeWorkingTreeChanges === true;

  const diffs = new Map<string, string[]>();
  const diff = (args: string[], key: string, failure: () => string[]): string[] => {
    let paths = diffs.get(key);
    if (!paths) {
      const output = gitOutput(projectDir, ["diff", "--name-only", "-z", "--no-renames", ...args]);
      paths = output === undefined ? failure() : splitNul(output);
      if (withWorkingTree) paths = [...new Set([...paths, ...workingTreeChanges(projectDir)])];
      diffs.set(key, paths);
    }
    return paths;
  };
  const resolveCommit = (ref: string): string | undefined =>
    refs.heads.get(ref) ??
    refs.tags.get(ref) ??
    refs.originBranches.get(ref) ??
    gitOutput(repoDir, [
      "rev-parse",
      "--verify",
      "-q",
      "--end-of-options",
      `${ref}^{commit}`,
    ])?.trim();

  const changedFiles = (compareTo?: string): string[] => {
    if (!isGitRepository) return [];
    if (compareTo !== undefined) {
      const base = resolveCommit(compareTo);
      if (!base) throw new RefNotFoundError(compareTo);
      return diff([`${base}...${sha}`], `since:${base}`, () => {
        throw new RefNotFoundError(compareTo);
      });
    }
    if (isMergeRequest) {
      const target = resolveCommit(defaultBranch);
      return target ? diff([`${target}...${sha}`], `since:${target}`, () => []) : [];
    }
    if (changesAlwaysMatch) return [];
    return diff([beforeSha, sha], `push:${beforeSha}`, () => []);
  };

  let files: string[] | undefined;
  const repositoryFiles = (): readonly string[] => {
    if (!files) {
      let listed: string[];
      if (!isGitRepository) listed = walkFiles(repoDir);
      else if (withWorkingTree) {
        listed = splitNul(
          gitOutput(projectDir, ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]) ??
            "",
        );
      } else
        listed = splitNul(
          gitOutput(projectDir, ["ls-tree", "-r", "-z", "--name-only", "--full-tree", sha]) ?? "",
        );
      files = [...new Set(listed)].sort();
    }
    return files;
  };

  return {
    repoDir,
    isGitRepository,
    sha,
    shortSha: sha.slice(0, 8),
    beforeSha,
    refName,
    refType,
    refProtected: options.refProtected ?? (refType === "branch" && refName === defaultBranch),
    tagMessage,
    defaultBranch,
    source,
    pipelineId,
    pipelineIid: options.pipelineIid ?? pipelineId,
    createdAt: isoSeconds(now),
    registry,
    registryImage: options.registryImage ?? `${registry}/${identity.path.toLowerCase()}`,
    serverUrl,
    commit: commitInfo(message, authorName, authorEmail, date),
    project: {
      name: identity.name,
      path: identity.path,
      namespace: identity.namespace,
      url: `${serverUrl}/${identity.path}`,
      pathSlug: slugify(identity.path),
      dir: projectDir,
    },
    notes,
    changesAlwaysMatch,
    changedFiles,
    repositoryFiles,
    fileExists: (globs) => filesMatchExists(repositoryFiles(), globs),
  };
}

function workingTreeChanges(repoDir: string): string[] {
  const tracked = splitNul(
    gitOutput(repoDir, ["diff", "--name-only", "-z", "--no-renames", "HEAD"]) ?? "",
  );
  const untracked = splitNul(
    gitOutput(repoDir, ["ls-files", "-z", "--others", "--exclude-standard"]) ?? "",
  );
  return [...tracked, ...untracked];
}

function walkFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name === ".git") continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(relative(root, full).split(sep).join("/"));
    }
  };
  walk(root);
  return out;
}
