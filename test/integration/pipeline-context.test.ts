import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  predefinedJobVariables,
  predefinedPipelineVariables,
  readPipelineContext,
  ZERO_SHA,
  type PipelineContextOptions,
} from "../../src/pipeline/context/index.ts";
import {
  originUrlFromFiles,
  refsFromFiles,
  topLevelFromFiles,
} from "../../src/pipeline/context/git-files.ts";
import { matchRules } from "../../src/pipeline/rules/rule.ts";

let root: string;
let repo: string;
const sha: Record<string, string> = {};

function git(args: string[], env: Record<string, string> = {}): string {
  return execFileSync("git", args, {
    cwd: repo,
    encoding: "utf8",
    env: {
      ...process.env,
      HOME: root,
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_AUTHOR_NAME: "Ada Lovelace",
      GIT_AUTHOR_EMAIL: "ada@example.com",
      GIT_COMMITTER_NAME: "Ada Lovelace",
      GIT_COMMITTER_EMAIL: "ada@example.com",
      ...env,
    },
  }).trim();
}

function write(path: string, content: string): void {
  mkdirSync(dirname(join(repo, path)), { recursive: true });
  writeFileSync(join(repo, path), content);
}

function commit(message: string, date: string): string {
  git(["add", "-A"]);
  git(["commit", "-q", "-m", message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  return git(["rev-parse", "HEAD"]);
}

function variablesOf(options: Partial<PipelineContextOptions> = {}): Map<string, string> {
  return new Map(predefinedPipelineVariables(readPipelineContext({ repoDir: repo, ...options })));
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "pier-context-"));
  repo = join(root, "My Project");
  mkdirSync(repo);
  git(["init", "-q", "-b", "main"]);
  write("README.md", "hello\n");
  write(".gitignore", "ignored.txt\n");
  sha["first"] = commit("Initial commit", "2024-03-01T10:00:00+02:00");
  write("src/app.ts", "export {};\n");
  write("docs/guide/intro.md", "# intro\n");
  sha["second"] = commit(
    "Add the app\n\nWith a description\nover two lines.\n",
    "2024-03-02T12:30:00+00:00",
  );
  git(["remote", "add", "origin", "git@gitlab.example.com:Group/Sub/My-Project.git"]);
  // What the remote has seen: the first commit of main was pushed, the second not yet.
  git(["update-ref", "refs/remotes/origin/main", sha["first"] ?? ""]);
  git(["tag", "-a", "v1.0.0", "-m", "Release 1.0.0"]);
  git(["checkout", "-q", "-b", "feature/Login_Page"]);
  write("src/login.ts", "export {};\n");
  sha["feature"] = commit("Login page", "2024-03-03T08:00:00Z");
  write("untracked.txt", "new\n");
  write("ignored.txt", "ignored\n");
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("readPipelineContext on a real repository", () => {
  it("reads the branch pipeline of the checked-out branch", () => {
    const ctx = readPipelineContext({ repoDir: repo, now: new Date("2024-05-01T12:00:00.123Z") });
    expect(ctx.isGitRepository).toBe(true);
    expect(ctx.sha).toBe(sha["feature"]);
    expect(ctx.shortSha).toBe(sha["feature"]?.slice(0, 8));
    expect(ctx.refName).toBe("feature/Login_Page");
    expect(ctx.refType).toBe("branch");
    expect(ctx.defaultBranch).toBe("main");
    // A branch origin does not have yet is a new branch: no diff base.
    expect(ctx.beforeSha).toBe(ZERO_SHA);
    expect(ctx.changesAlwaysMatch).toBe(true);
    expect(ctx.createdAt).toBe("2024-05-01T12:00:00Z");
    expect(ctx.commit).toMatchObject({
      title: "Login page",
      author: "Ada Lovelace <ada@example.com>",
      timestamp: "2024-03-03T08:00:00Z",
    });
  });

  it("diffs a push against what origin has", () => {
    const ctx = readPipelineContext({ repoDir: repo, branch: "main" });
    expect(ctx.beforeSha).toBe(sha["first"]);
    expect(ctx.changesAlwaysMatch).toBe(false);
    // The pipeline runs HEAD (the feature commit); main's name is only the ref.
    expect(ctx.changedFiles().sort()).toEqual([
      "docs/guide/intro.md",
      "src/app.ts",
      "src/login.ts",
    ]);
    expect(ctx.notes.join("\n")).toMatch(/runs HEAD/);
  });

  it("diffs against compare_to from the merge base", () => {
    const ctx = readPipelineContext({ repoDir: repo });
    expect(ctx.changedFiles("main")).toEqual(["src/login.ts"]);
    expect(ctx.changedFiles("v1.0.0")).toEqual(["src/login.ts"]);
    expect(ctx.changedFiles(sha["first"])).toEqual(
      ["docs/guide/intro.md", "src/app.ts", "src/login.ts"].sort(),
    );
    expect(() => ctx.changedFiles("no-such-ref")).toThrow(/compare_to is not a valid ref/);
    const lookup = (): undefined => undefined;
    expect(
      matchRules([{ changes: { paths: ["src/*.ts"], compareTo: "main" } }], {
        lookup,
        context: ctx,
      }),
    ).toBeDefined();
    expect(
      matchRules([{ changes: { paths: ["docs/**/*"], compareTo: "main" } }], {
        lookup,
        context: ctx,
      }),
    ).toBeUndefined();
  });

  it("lists the files of the commit for rules:exists, or of the working tree when asked", () => {
    const ctx = readPipelineContext({ repoDir: repo });
    expect(ctx.repositoryFiles()).toEqual([
      ".gitignore",
      "README.md",
      "docs/guide/intro.md",
      "src/app.ts",
      "src/login.ts",
    ]);
    expect(ctx.fileExists(["**/*.md"])).toBe(true);
    expect(ctx.fileExists(["untracked.txt"])).toBe(false);
    const worktree = readPipelineContext({ repoDir: repo, includeWorkingTreeChanges: true });
    expect(worktree.fileExists(["untracked.txt"])).toBe(true);
    expect(worktree.fileExists(["ignored.txt"])).toBe(false);
    expect(worktree.changedFiles("main").sort()).toEqual(["src/login.ts", "untracked.txt"]);
  });

  it("works the same from a subdirectory of the repository", () => {
    const ctx = readPipelineContext({
      repoDir: join(repo, "src"),
      includeWorkingTreeChanges: true,
    });
    expect(ctx.project.dir).toBe(repo);
    expect(ctx.fileExists(["untracked.txt"])).toBe(true);
    expect(ctx.fileExists(["src/login.ts"])).toBe(true);
    expect(ctx.changedFiles("main").sort()).toEqual(["src/login.ts", "untracked.txt"]);
  });

  it("reads a tag pipeline", () => {
    const ctx = readPipelineContext({ repoDir: repo, tag: "v1.0.0" });
    expect(ctx.refType).toBe("tag");
    expect(ctx.beforeSha).toBe(ZERO_SHA);
    expect(ctx.changesAlwaysMatch).toBe(true);
    expect(ctx.tagMessage).toBe("Release 1.0.0");
    const vars = new Map(predefinedPipelineVariables(ctx));
    expect(vars.get("CI_COMMIT_TAG")).toBe("v1.0.0");
    expect(vars.get("CI_COMMIT_TAG_MESSAGE")).toBe("Release 1.0.0");
    expect(vars.has("CI_COMMIT_BRANCH")).toBe(false);
    expect(vars.get("CI_COMMIT_REF_PROTECTED")).toBe("false");
    // --ref resolves to a tag when no branch has that name.
    expect(readPipelineContext({ repoDir: repo, ref: "v1.0.0" }).refType).toBe("tag");
    expect(readPipelineContext({ repoDir: repo, ref: "main" }).refType).toBe("branch");
  });

  it("runs a detached HEAD at a tag as a tag pipeline", () => {
    git(["checkout", "-q", "--detach", "v1.0.0"]);
    try {
      const ctx = readPipelineContext({ repoDir: repo });
      expect(ctx.refType).toBe("tag");
      expect(ctx.refName).toBe("v1.0.0");
      expect(ctx.sha).toBe(sha["second"]);
    } finally {
      git(["checkout", "-q", "feature/Login_Page"]);
    }
  });

  it("gives GitLab's predefined pipeline variables", () => {
    const vars = variablesOf({
      now: new Date("2024-05-01T12:00:00Z"),
      pipelineId: 4242,
      pipelineIid: 7,
    });
    expect(Object.fromEntries(vars)).toMatchObject({
      CI: "true",
      GITLAB_CI: "true",
      CI_COMMIT_SHA: sha["feature"],
      CI_COMMIT_BEFORE_SHA: ZERO_SHA,
      CI_COMMIT_REF_NAME: "feature/Login_Page",
      CI_COMMIT_REF_SLUG: "feature-login-page",
      CI_COMMIT_BRANCH: "feature/Login_Page",
      CI_COMMIT_REF_PROTECTED: "false",
      CI_COMMIT_TITLE: "Login page",
      CI_COMMIT_AUTHOR: "Ada Lovelace <ada@example.com>",
      CI_COMMIT_TIMESTAMP: "2024-03-03T08:00:00Z",
      CI_DEFAULT_BRANCH: "main",
      CI_PIPELINE_IID: "7",
      CI_PIPELINE_SOURCE: "push",
      CI_PIPELINE_CREATED_AT: "2024-05-01T12:00:00Z",
      CI_PROJECT_NAME: "My-Project",
      CI_PROJECT_PATH: "Group/Sub/My-Project",
      CI_PROJECT_NAMESPACE: "Group/Sub",
      CI_PROJECT_ROOT_NAMESPACE: "Group",
      CI_PROJECT_PATH_SLUG: "group-sub-my-project",
      CI_PROJECT_URL: "https://gitlab.example.com/Group/Sub/My-Project",
      CI_SERVER_URL: "https://gitlab.example.com",
      CI_SERVER_HOST: "gitlab.example.com",
      CI_SERVER_PORT: "443",
      CI_SERVER_PROTOCOL: "https",
      CI_SERVER_NAME: "GitLab",
      CI_API_V4_URL: "https://gitlab.example.com/api/v4",
      CI_REGISTRY: "registry.pier.local",
      CI_REGISTRY_IMAGE: "registry.pier.local/group/sub/my-project",
    });
    expect(vars.get("CI_SERVER_VERSION")).toMatch(/^\d+\.\d+\.\d+$/);
    expect(vars.has("CI_COMMIT_TAG")).toBe(false);
    // Persisted variables are not offered to rules.
    expect(vars.has("CI_PIPELINE_ID")).toBe(false);
  });

  it("splits the commit message like GitLab and honours options", () => {
    const vars = variablesOf({
      branch: "main",
      registry: "registry.example.com:5000",
      serverUrl: "http://gitlab.internal:8080/",
    });
    const ctx = readPipelineContext({ repoDir: repo, branch: "main" });
    expect(ctx.refProtected).toBe(true);
    expect(vars.get("CI_COMMIT_REF_PROTECTED")).toBe("true");
    expect(vars.get("CI_REGISTRY_IMAGE")).toBe("registry.example.com:5000/group/sub/my-project");
    expect(vars.get("CI_SERVER_URL")).toBe("http://gitlab.internal:8080");
    expect(vars.get("CI_SERVER_PORT")).toBe("8080");
    expect(vars.get("CI_SERVER_PROTOCOL")).toBe("http");
    expect(vars.get("CI_PROJECT_URL")).toBe("http://gitlab.internal:8080/Group/Sub/My-Project");

    git(["checkout", "-q", "main"]);
    try {
      const main = variablesOf();
      expect(main.get("CI_COMMIT_TITLE")).toBe("Add the app");
      expect(main.get("CI_COMMIT_DESCRIPTION")).toBe("\nWith a description\nover two lines.");
      expect(main.get("CI_COMMIT_MESSAGE")).toBe(
        "Add the app\n\nWith a description\nover two lines.\n",
      );
      expect(main.get("CI_COMMIT_TIMESTAMP")).toBe("2024-03-02T12:30:00Z");
    } finally {
      git(["checkout", "-q", "feature/Login_Page"]);
    }
  });

  it("merge request pipelines have no CI_COMMIT_BRANCH and diff against the default branch", () => {
    const ctx = readPipelineContext({ repoDir: repo, source: "merge_request_event" });
    const vars = new Map(predefinedPipelineVariables(ctx));
    expect(vars.has("CI_COMMIT_BRANCH")).toBe(false);
    expect(vars.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME")).toBe("main");
    expect(vars.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME")).toBe("feature/Login_Page");
    expect(ctx.changesAlwaysMatch).toBe(false);
    expect(ctx.changedFiles()).toEqual(["src/login.ts"]);
  });

  it("gives job variables, CI_NODE_INDEX only for parallel jobs", () => {
    const ctx = readPipelineContext({ repoDir: repo, pipelineId: 99 });
    const plain = new Map(
      predefinedJobVariables({ name: "Build Image: [amd64]", stage: "build", id: 5 }, ctx),
    );
    expect(plain.get("CI_JOB_NAME")).toBe("Build Image: [amd64]");
    expect(plain.get("CI_JOB_NAME_SLUG")).toBe("build-image---amd64");
    expect(plain.get("CI_JOB_STAGE")).toBe("build");
    expect(plain.get("CI_JOB_ID")).toBe("5");
    expect(plain.get("CI_PIPELINE_ID")).toBe("99");
    expect(plain.has("CI_NODE_INDEX")).toBe(false);
    expect(plain.get("CI_NODE_TOTAL")).toBe("1");
    const parallel = new Map(
      predefinedJobVariables(
        { name: "test 2/3", stage: "test", id: 6, nodeIndex: 2, nodeTotal: 3 },
        ctx,
      ),
    );
    expect(parallel.get("CI_NODE_INDEX")).toBe("2");
    expect(parallel.get("CI_NODE_TOTAL")).toBe("3");
  });

  it("makes up unique pipeline ids when none is given", () => {
    const now = new Date();
    const a = readPipelineContext({ repoDir: repo, now }).pipelineId;
    const b = readPipelineContext({ repoDir: repo, now }).pipelineId;
    expect(a).toBeGreaterThan(0);
    expect(b).not.toBe(a);
  });

  it("runs git only a handful of times, however many rules are evaluated", () => {
    const shimDir = join(root, "shim");
    const log = join(root, "git-calls.log");
    const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
    mkdirSync(shimDir, { recursive: true });
    writeFileSync(
      join(shimDir, "git"),
      `#!/bin/sh\necho "$*" >> '${log}'\nexec '${realGit}' "$@"\n`,
    );
    chmodSync(join(shimDir, "git"), 0o755);
    const savedPath = process.env["PATH"];
    process.env["PATH"] = `${shimDir}:${savedPath ?? ""}`;
    try {
      const ctx = readPipelineContext({ repoDir: repo, branch: "main" });
      const lookup = (): undefined => undefined;
      for (let job = 0; job < 500; job++) {
        matchRules(
          [
            { changes: { paths: [`src/${job}/*.ts`] } },
            { changes: { paths: ["docs/**/*"], compareTo: "main" } },
            { exists: [`pkg-${job}/package.json`, "**/*.rs"] },
          ],
          { lookup, context: ctx },
        );
      }
    } finally {
      process.env["PATH"] = savedPath;
    }
    const calls = readFileSync(log, "utf8").trim().split("\n");
    expect(calls.length).toBeLessThanOrEqual(7);
  });
});

describe("readPipelineContext outside a git repository", () => {
  it("works with placeholders and a note", () => {
    const dir = join(root, "plain-folder");
    mkdirSync(join(dir, "sub"), { recursive: true });
    writeFileSync(join(dir, "sub", "file.txt"), "x");
    const ctx = readPipelineContext({ repoDir: dir });
    expect(ctx.isGitRepository).toBe(false);
    expect(ctx.sha).toBe(ZERO_SHA);
    expect(ctx.refName).toBe("main");
    expect(ctx.project.path).toBe("local/plain-folder");
    expect(ctx.notes.join("\n")).toMatch(/not a git repository/);
    expect(ctx.changesAlwaysMatch).toBe(true);
    expect(ctx.fileExists(["sub/*.txt"])).toBe(true);
    const vars = new Map(predefinedPipelineVariables(ctx));
    expect(vars.get("CI_PROJECT_URL")).toBe("https://gitlab.pier.local/local/plain-folder");
    expect(vars.get("CI_COMMIT_BRANCH")).toBe("main");
  });
});

describe("git facts read from the repository's files", () => {
  it("match what git prints, packed or loose, and leave unusual cases to git", () => {
    const saved = repo;
    repo = join(root, "files-repo");
    mkdirSync(repo);
    try {
      git(["init", "-q", "-b", "main"]);
      write("a.txt", "a\n");
      const first = commit("first", "2024-03-01T10:00:00Z");
      git(["remote", "add", "origin", "https://gitlab.example.com/group/files-repo.git"]);
      git(["update-ref", "refs/remotes/origin/main", first]);
      git(["symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main"]);
      git(["tag", "-a", "v1", "-m", "annotated"]);
      git(["tag", "light"]);
      git(["branch", "feature/x"]);
      const forEachRef = (): string =>
        execFileSync(
          "git",
          [
            "for-each-ref",
            "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(symref)",
            "refs/heads",
            "refs/tags",
            "refs/remotes/origin",
          ],
          { cwd: repo, encoding: "utf8" },
        );

      // Loose tags, annotated or not: the annotated one is peeled from its tag object.
      expect(refsFromFiles(repo)).toBe(forEachRef());
      expect(refsFromFiles(repo)).toMatch(/^refs\/tags\/v1\0[0-9a-f]{40}\0[0-9a-f]{40}\0$/m);
      // Loose refs to packed tag objects; a tag of a tag peels one level, as for-each-ref.
      git(["tag", "-a", "tag-of-tag", "-m", "points at v1", "v1"]);
      git(["tag", "-a", "packed-object", "-m", "points at the commit", first]);
      git(["gc", "-q"]);
      for (const tag of ["tag-of-tag", "packed-object"]) {
        const object = git(["rev-parse", `refs/tags/${tag}`]);
        git(["update-ref", "-d", `refs/tags/${tag}`]);
        git(["update-ref", `refs/tags/${tag}`, object]);
      }
      expect(readdirSync(join(repo, ".git", "refs", "tags")).sort()).toEqual([
        "packed-object",
        "tag-of-tag",
      ]);
      expect(readdirSync(join(repo, ".git", "objects")).sort()).toEqual(["info", "pack"]);
      expect(refsFromFiles(repo)).toBe(forEachRef());
      // Packed, a tag of a tag peels to the commit (packed-refs' `^` line) where for-each-ref
      // peels one level: compare without it.
      git(["tag", "-d", "tag-of-tag"]);
      git(["pack-refs", "--all"]);
      write("b.txt", "b\n");
      commit("second", "2024-03-02T10:00:00Z");
      git(["branch", "loose-after-packing"]);
      expect(refsFromFiles(repo)).toBe(forEachRef());
      expect(topLevelFromFiles(repo)).toBe(
        `${git(["rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD"])}\n`,
      );
      expect(originUrlFromFiles(repo)).toEqual({
        url: `${git(["config", "--get", "remote.origin.url"])}\n`,
      });

      git(["checkout", "-q", "--detach", "HEAD"]);
      expect(topLevelFromFiles(repo)).toBe(
        `${git(["rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD"])}\n`,
      );
      // From a subdirectory, or with a config git must interpret, git is asked.
      expect(topLevelFromFiles(join(repo, "sub"))).toBeUndefined();
      git(["config", "include.path", "other.config"]);
      expect(originUrlFromFiles(repo)).toBeUndefined();
    } finally {
      repo = saved;
    }
  });
});
