import { execFileSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPipelineContext } from "../../src/pipeline/context/index.ts";
import {
  originUrlFromFiles,
  refsFromFiles,
  tagContentsFromFiles,
  topLevelFromFiles,
} from "../../src/pipeline/context/git-files.ts";
import { parseCommit } from "../../src/pipeline/context/git-commit.ts";
import { headCommitFromFiles } from "../../src/pipeline/context/git-head-commit.ts";
import { readGitObject } from "../../src/pipeline/context/git-objects.ts";

let root: string;
let counter = 0;

const identity = {
  GIT_AUTHOR_NAME: "Ada Lovelace",
  GIT_AUTHOR_EMAIL: "ada@example.com",
  GIT_COMMITTER_NAME: "Charles Babbage",
  GIT_COMMITTER_EMAIL: "charles@example.com",
  GIT_AUTHOR_DATE: "@1700000000 +0000",
  GIT_COMMITTER_DATE: "@1700000000 +0000",
};

/** git's output as pier's gitOutput reads it: UTF-8, untrimmed. */
function gitOutput(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  input?: Buffer,
): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    input,
    env: { ...process.env, HOME: root, GIT_CONFIG_NOSYSTEM: "1", ...identity, ...env },
  });
}

function git(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
  input?: Buffer,
): string {
  return gitOutput(cwd, args, env, input).trim();
}

function gitBytes(cwd: string, args: string[]): Buffer {
  return execFileSync("git", args, {
    cwd,
    env: { ...process.env, HOME: root, GIT_CONFIG_NOSYSTEM: "1" },
  });
}

function newRepository(name = `repo-${++counter}`): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  git(dir, ["init", "-q", "-b", "main"]);
  return dir;
}

function commitAll(dir: string, message: string, env: Record<string, string> = {}): string {
  git(dir, ["add", "-A"]);
  git(dir, ["commit", "-q", "--allow-empty", "--cleanup=verbatim", "-m", message], env);
  return git(dir, ["rev-parse", "HEAD"]);
}

/** Writes a raw commit object and checks it out, detached. */
function writeCommitObject(dir: string, content: Buffer): string {
  const sha = git(dir, ["hash-object", "-t", "commit", "-w", "--stdin"], {}, content);
  git(dir, ["update-ref", "--no-deref", "HEAD", sha]);
  return sha;
}

/** `git log -1 -z --format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%B HEAD`, split as pier reads it. */
function gitLogFields(dir: string): string[] {
  const output = gitOutput(dir, [
    "log",
    "-1",
    "-z",
    "--format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%B",
    "HEAD",
  ]);
  // Newer git prints UTC as `Z`; git 2.39 (and this reader) as `+00:00`: the same instant.
  return output
    .split("\0")
    .slice(0, 6)
    .map((field, index) => (index === 4 ? field.replace(/Z$/, "+00:00") : field));
}

/** headCommitFromFiles as the same six fields, for comparing with git's. */
function fileFields(dir: string): string[] | undefined {
  const head = headCommitFromFiles(dir);
  if (head === undefined) return undefined;
  const { parents, authorName, authorEmail, committerDate, message } = head.commit;
  return [head.sha, parents.join(" "), authorName, authorEmail, committerDate, message];
}

function expectSameAsGit(dir: string): void {
  const fields = fileFields(dir);
  expect(fields).toBeDefined();
  expect(fields).toEqual(gitLogFields(dir));
}

/** Every object of the repository, compared with what `git cat-file` prints. */
function expectAllObjectsReadable(dir: string): number {
  const listing = git(dir, [
    "cat-file",
    "--batch-all-objects",
    "--batch-check=%(objectname) %(objecttype)",
  ]);
  const objectsDir = join(dir, ".git", "objects");
  let count = 0;
  for (const line of listing.split("\n")) {
    const [sha = "", type = ""] = line.split(" ");
    const object = readGitObject(objectsDir, sha);
    expect(object?.type, sha).toBe(type);
    expect(object?.data.equals(gitBytes(dir, ["cat-file", type, sha])), sha).toBe(true);
    count++;
  }
  return count;
}

interface PackedEntry {
  sha: string;
  type: string;
  offset: number;
  depth: number;
}

function packedEntries(dir: string): { pack: string; entries: PackedEntry[] } {
  const packDir = join(dir, ".git", "objects", "pack");
  const idx = readdirSync(packDir).find((name) => name.endsWith(".idx"));
  if (idx === undefined) throw new Error("no pack");
  const entries: PackedEntry[] = [];
  for (const line of git(dir, ["verify-pack", "-v", join(packDir, idx)]).split("\n")) {
    const match = /^([0-9a-f]{40}) (\w+)\s+\d+ \d+ (\d+)(?: (\d+) [0-9a-f]{40})?$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    entries.push({
      sha: match[1],
      type: match[2],
      offset: Number(match[3]),
      depth: Number(match[4] ?? 0),
    });
  }
  return { pack: join(packDir, idx.replace(/\.idx$/, ".pack")), entries };
}

/** The pack entry type in the entry's first byte: 6 is OFS_DELTA, 7 REF_DELTA. */
function packEntryType(pack: string, offset: number): number {
  const fd = openSync(pack, "r");
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    return ((byte[0] ?? 0) >> 4) & 7;
  } finally {
    closeSync(fd);
  }
}

/** Commits whose messages overlap with their neighbours only: git chains their deltas. */
function commitSlidingMessages(dir: string, count: number): void {
  for (let index = 1; index <= count; index++) {
    const lines = [`Commit ${index}`, ""];
    for (let line = index; line < index + 30; line++) {
      lines.push(`Line ${line}: ${(line * 2654435761).toString(16).repeat(6)}`);
    }
    commitAll(dir, `${lines.join("\n")}\n`);
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "pier-git-objects-"));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("readGitObject", () => {
  it("reads loose and packed objects of every type as git cat-file prints them", () => {
    const dir = newRepository();
    writeFileSync(join(dir, "a.txt"), "hello\n");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "b.bin"), Buffer.from([0, 1, 2, 255]));
    // Large objects too, whose compressed length needs a second, longer read from a pack.
    let seed = 1;
    const noise = Buffer.alloc(200_000).map(() => (seed = (seed * 48271) % 2147483647) & 0xff);
    writeFileSync(join(dir, "noise.bin"), noise);
    writeFileSync(join(dir, "text.txt"), "a line of text that repeats\n".repeat(20_000));
    commitAll(dir, "first\n");
    git(dir, ["tag", "-a", "v1", "-m", "annotated"]);
    expect(readdirSync(join(dir, ".git", "objects", "pack"))).toEqual([]);
    expect(expectAllObjectsReadable(dir)).toBe(8);
    git(dir, ["repack", "-q", "-a", "-d"]);
    expect(readdirSync(join(dir, ".git", "objects", "pack")).length).toBeGreaterThan(0);
    expect(expectAllObjectsReadable(dir)).toBe(8);
  });

  it("resolves offset and ref delta chains of commits in packs", () => {
    const dir = newRepository();
    commitSlidingMessages(dir, 40);
    git(dir, ["repack", "-q", "-a", "-d", "-f", "--depth=50", "--window=250"]);
    const offsetPacked = packedEntries(dir);
    const deltaCommits = offsetPacked.entries.filter((e) => e.type === "commit" && e.depth > 0);
    // The recipe really deltifies commits, in chains, as OFS_DELTA entries.
    expect(deltaCommits.length).toBeGreaterThan(30);
    expect(Math.max(...deltaCommits.map((e) => e.depth))).toBeGreaterThanOrEqual(10);
    for (const entry of deltaCommits)
      expect(packEntryType(offsetPacked.pack, entry.offset)).toBe(6);
    expect(expectAllObjectsReadable(dir)).toBe(offsetPacked.entries.length);
    expectSameAsGit(dir);

    git(dir, [
      "-c",
      "repack.useDeltaBaseOffset=false",
      "repack",
      "-q",
      "-a",
      "-d",
      "-f",
      "--depth=50",
      "--window=250",
    ]);
    const refPacked = packedEntries(dir);
    const refDeltas = refPacked.entries.filter((e) => e.type === "commit" && e.depth > 0);
    expect(refDeltas.length).toBeGreaterThan(30);
    for (const entry of refDeltas) expect(packEntryType(refPacked.pack, entry.offset)).toBe(7);
    expect(expectAllObjectsReadable(dir)).toBe(refPacked.entries.length);
    expectSameAsGit(dir);
  });

  it("reads offsets from the index's 64-bit table", () => {
    const dir = newRepository();
    commitSlidingMessages(dir, 20);
    git(dir, ["repack", "-q", "-a", "-d"]);
    const { pack, entries } = packedEntries(dir);
    const idx = pack.replace(/\.pack$/, ".idx");
    const smallSize = statSync(idx).size;
    rmSync(idx, { force: true });
    // Objects after byte 1000 of the pack get their offsets from the 64-bit table.
    git(dir, ["index-pack", "--index-version=2,1000", "-o", idx, pack]);
    const large = entries.filter((e) => e.offset > 1000).length;
    expect(large).toBeGreaterThan(10);
    expect(statSync(idx).size).toBe(smallSize + large * 8);
    expect(expectAllObjectsReadable(dir)).toBe(entries.length);
  });

  it("reads objects through alternates", () => {
    const source = newRepository();
    commitAll(source, "shared history\n");
    git(source, ["gc", "-q"]);
    commitAll(source, "loose in the source\n");
    const clone = join(root, `shared-${++counter}`);
    git(root, ["clone", "-q", "--shared", source, clone]);
    expect(readFileSync(join(clone, ".git", "objects", "info", "alternates"), "utf8")).toContain(
      source,
    );
    expect(readdirSync(join(clone, ".git", "objects", "pack"))).toEqual([]);
    expectSameAsGit(clone);
    // An alternate of an alternate.
    const second = join(root, `shared-${++counter}`);
    git(root, ["clone", "-q", "--shared", clone, second]);
    commitAll(second, "own commit\n");
    git(second, ["reset", "-q", "--hard", "HEAD~2"]);
    expectSameAsGit(second);
  });

  it("gives undefined for missing objects, old index versions and corrupt data", () => {
    const dir = newRepository();
    commitAll(dir, "first\n");
    const objects = join(dir, ".git", "objects");
    expect(readGitObject(objects, "0".repeat(40))).toBeUndefined();
    expect(readGitObject(objects, "not a sha")).toBeUndefined();

    const loose = commitAll(dir, "second\n");
    git(dir, ["reset", "-q", "--hard", "HEAD~1"]);
    const loosePath = join(objects, loose.slice(0, 2), loose.slice(2));
    expect(readGitObject(objects, loose)?.type).toBe("commit");
    chmodSync(loosePath, 0o644);
    writeFileSync(loosePath, "not zlib data");
    expect(readGitObject(objects, loose)).toBeUndefined();
    rmSync(loosePath);

    git(dir, ["reflog", "expire", "--expire=now", "--all"]);
    git(dir, ["repack", "-q", "-a", "-d"]);
    const { pack } = packedEntries(dir);
    const head = git(dir, ["rev-parse", "HEAD"]);
    expect(readGitObject(objects, head)?.type).toBe("commit");
    const idx = pack.replace(/\.pack$/, ".idx");
    rmSync(idx);
    git(dir, ["index-pack", "--index-version=1", "-o", idx, pack]);
    expect(readGitObject(objects, head)).toBeUndefined();
    expect(headCommitFromFiles(dir)).toBeUndefined();
    // git still reads it: the context falls back to git log.
    expect(readPipelineContext({ repoDir: dir }).commit.title).toBe("first");
  });
});

describe("headCommitFromFiles matches git log", () => {
  it("reads a root commit with unusual offsets", () => {
    const dir = newRepository();
    commitAll(dir, "Initial commit\n", {
      GIT_AUTHOR_DATE: "@1700000000 +0530",
      GIT_COMMITTER_DATE: "@1700000000 -0800",
    });
    expectSameAsGit(dir);
    expect(headCommitFromFiles(dir)?.commit.committerDate).toBe("2023-11-14T14:13:20-08:00");
    expect(headCommitFromFiles(dir)?.commit.parents).toEqual([]);
    for (const offset of ["+0000", "-0000", "+1400", "-1200", "+0545", "-0330"]) {
      commitAll(dir, `offset ${offset}\n`, { GIT_COMMITTER_DATE: `@86399 ${offset}` });
      expectSameAsGit(dir);
    }
  });

  it("reads a packed merge commit with two parents", () => {
    const dir = newRepository();
    commitAll(dir, "base\n");
    git(dir, ["checkout", "-q", "-b", "side"]);
    writeFileSync(join(dir, "side.txt"), "side\n");
    commitAll(dir, "side\n");
    git(dir, ["checkout", "-q", "main"]);
    writeFileSync(join(dir, "main.txt"), "main\n");
    commitAll(dir, "main\n");
    git(dir, ["merge", "-q", "--no-ff", "-m", "Merge branch 'side'", "side"]);
    git(dir, ["gc", "-q"]);
    expect(readdirSync(join(dir, ".git", "objects", "pack")).some((n) => n.endsWith(".pack"))).toBe(
      true,
    );
    expect(headCommitFromFiles(dir)?.commit.parents).toHaveLength(2);
    expectSameAsGit(dir);
  });

  it("keeps messages exactly: paragraphs, trailing blank lines, no final newline, empty", () => {
    const dir = newRepository();
    const message = "Title line\n\nFirst paragraph\nwraps.\n\n  Indented paragraph.\n\n\n\n";
    commitAll(dir, message);
    expect(headCommitFromFiles(dir)?.commit.message).toBe(message);
    expectSameAsGit(dir);
    const tree = git(dir, ["rev-parse", "HEAD^{tree}"]);
    const header = `tree ${tree}\nauthor A <a@example.com> 1700000000 +0000\ncommitter C <c@example.com> 1700000000 +0000\n\n`;
    writeCommitObject(dir, Buffer.from(`${header}no final newline`));
    expect(headCommitFromFiles(dir)?.commit.message).toBe("no final newline");
    expect(gitLogFields(dir)[5]).toBe("no final newline");
    expectSameAsGit(dir);
    writeCommitObject(dir, Buffer.from(header));
    expect(headCommitFromFiles(dir)?.commit.message).toBe("");
    expectSameAsGit(dir);
  });

  it("skips gpgsig and mergetag headers and reads the last author line", () => {
    const dir = newRepository();
    const parent = commitAll(dir, "parent\n");
    const tree = git(dir, ["rev-parse", "HEAD^{tree}"]);
    const content = [
      `tree ${tree}`,
      `parent ${parent}`,
      "author Grace Hopper <grace@example.com> 1700000000 +0100",
      "committer Alan Turing <alan@example.com> 1700003600 -0230",
      `mergetag object ${parent}`,
      " type commit",
      " tag v0",
      " tagger Someone Else <else@example.com> 1600000000 +0000",
      " ",
      " author Not The Author <no@example.com> 1 +0000",
      "gpgsig -----BEGIN PGP SIGNATURE-----",
      " ",
      " iQEzBAABCAAdFiEE0000000000000000000000000000000000000000000000",
      " committer Not The Committer <no@example.com> 2 +0000",
      " -----END PGP SIGNATURE-----",
      "",
      "Signed-looking commit",
      "",
      "Body.",
      "",
    ].join("\n");
    writeCommitObject(dir, Buffer.from(content));
    expect(headCommitFromFiles(dir)?.commit).toMatchObject({
      authorName: "Grace Hopper",
      committerDate: "2023-11-14T20:43:20-02:30",
      message: "Signed-looking commit\n\nBody.\n",
    });
    expectSameAsGit(dir);
  });

  it("converts an ISO-8859-1 commit to UTF-8 like git, and leaves other encodings to git", () => {
    const dir = newRepository();
    const tree = git(dir, ["hash-object", "-t", "tree", "-w", "--stdin"], {}, Buffer.alloc(0));
    const latin1 = Buffer.concat([
      Buffer.from(`tree ${tree}\nauthor Jos`),
      Buffer.from([0xe9]),
      Buffer.from(" M\xfcller <jose@example.com> 1700000000 +0000\n", "latin1"),
      Buffer.from("committer C <c@example.com> 1700000000 +0000\nencoding ISO-8859-1\n\n"),
      Buffer.from("Caf\xe9 cr\xe8me \xa9\n", "latin1"),
    ]);
    writeCommitObject(dir, latin1);
    expect(headCommitFromFiles(dir)?.commit).toMatchObject({
      authorName: "José Müller",
      message: "Café crème ©\n",
    });
    expectSameAsGit(dir);

    // Invalid UTF-8 without an encoding header: the same replacement characters as git's output.
    writeCommitObject(
      dir,
      Buffer.concat([
        Buffer.from(`tree ${tree}\nauthor Bad `),
        Buffer.from([0xff, 0xc3]),
        Buffer.from(" <b@example.com> 1700000000 +0000\n"),
        Buffer.from("committer C <c@example.com> 1700000000 +0000\n\nbroken \xe9\n", "latin1"),
      ]),
    );
    expectSameAsGit(dir);

    writeCommitObject(
      dir,
      Buffer.from(
        `tree ${tree}\nauthor A <a@example.com> 1700000000 +0000\ncommitter C <c@example.com> 1700000000 +0000\nencoding Shift_JIS\n\nplain\n`,
      ),
    );
    expect(headCommitFromFiles(dir)).toBeUndefined();
    expect(readPipelineContext({ repoDir: dir }).commit.message).toBe("plain\n");
  });

  it("reads a linked worktree's HEAD from the common object store", () => {
    const dir = newRepository();
    commitAll(dir, "main commit\n");
    const worktree = join(root, `worktree-${++counter}`);
    git(dir, ["worktree", "add", "-q", "-b", "other", worktree]);
    commitAll(worktree, "worktree commit\n");
    expect(headCommitFromFiles(worktree)?.commit.message).toBe("worktree commit\n");
    expectSameAsGit(worktree);
    expect(headCommitFromFiles(dir)?.commit.message).toBe("main commit\n");
    // HEAD from the worktree's own folder, refs and configuration from the common one.
    git(dir, ["remote", "add", "origin", "https://gitlab.example.com/group/project.git"]);
    expect(topLevelFromFiles(worktree)).toBe(
      gitOutput(worktree, ["rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD"]),
    );
    expect(refsFromFiles(worktree)).toBe(
      gitOutput(worktree, [
        "for-each-ref",
        "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(symref)",
        "refs/heads",
        "refs/tags",
        "refs/remotes/origin",
      ]),
    );
    expect(originUrlFromFiles(worktree)).toEqual({
      url: gitOutput(worktree, ["config", "--get", "remote.origin.url"]),
    });
  });
});

describe("parseCommit on every commit of a varied history", () => {
  it("gives git log's fields for each", () => {
    const dir = newRepository();
    let seed = 11;
    const next = (bound: number): number => (seed = (seed * 48271) % 2147483647) % bound;
    const pick = <T>(items: readonly T[]): T => items[next(items.length)] as T;
    const names = ["Zoë Ångström", "李小龍", "O'Brien, Jr.", "  spaced  ", "emoji 🚀", "x"];
    const lines = ["", "  indented", "trailing space   ", "ünïcödé", "tab\there", "#not a comment"];
    for (let index = 0; index < 40; index++) {
      const offset = `${pick(["+", "-"])}${String(next(15)).padStart(2, "0")}${pick(["00", "30", "45"])}`;
      const message = Array.from({ length: 1 + next(6) }, () => pick(lines)).join("\n");
      commitAll(dir, `Subject ${index}\n${message}${"\n".repeat(next(3))}`, {
        GIT_AUTHOR_NAME: pick(names),
        GIT_AUTHOR_EMAIL: `${pick(names).trim().replace(/\s/g, ".")}@example.com`,
        GIT_COMMITTER_DATE: `@${1_000_000_000 + next(900_000_000)} ${offset}`,
      });
    }
    const log = gitOutput(dir, [
      "log",
      "-z",
      "--format=%H%x00%P%x00%an%x00%ae%x00%cI%x00%B",
      "HEAD",
    ]).split("\0");
    const objects = join(dir, ".git", "objects");
    let compared = 0;
    for (let at = 0; at + 6 <= log.length; at += 6) {
      const [sha = "", parents, authorName, authorEmail, date = "", message] = log.slice(
        at,
        at + 6,
      );
      const object = readGitObject(objects, sha);
      expect(object?.type).toBe("commit");
      const parsed = parseCommit(object?.data ?? Buffer.alloc(0));
      expect(parsed).toBeDefined();
      expect([
        parsed?.parents.join(" "),
        parsed?.authorName,
        parsed?.authorEmail,
        parsed?.committerDate,
        parsed?.message,
      ]).toEqual([parents, authorName, authorEmail, date.replace(/Z$/, "+00:00"), message]);
      compared++;
    }
    expect(compared).toBe(40);
  });
});

describe("tagContentsFromFiles", () => {
  it("prints what git tag -l --format=%(contents) prints", () => {
    const dir = newRepository();
    const commit = commitAll(dir, "Commit title\n\nCommit body.\n");
    git(dir, ["tag", "light"]);
    git(dir, ["tag", "-a", "annotated", "-m", "Release 1.0\n\nNotes\nmore notes\n\n"]);
    const signed = [
      `object ${commit}`,
      "type commit",
      "tag signed",
      "tagger T <t@example.com> 1700000000 +0000",
      "",
      "",
      "",
      "Signed release",
      "-----BEGIN PGP SIGNATURE-----",
      "",
      "iQEzBAABCAAd",
      "-----END PGP SIGNATURE-----",
      "",
    ].join("\n");
    const tagObject = git(
      dir,
      ["hash-object", "-t", "tag", "-w", "--stdin"],
      {},
      Buffer.from(signed),
    );
    git(dir, ["update-ref", "refs/tags/signed", tagObject]);
    git(dir, ["tag", "-a", "empty", "-m", ""]);
    const names = ["light", "annotated", "signed", "empty"];
    const expectSame = (): void => {
      for (const name of names) {
        expect(tagContentsFromFiles(dir, name), name).toBe(
          gitOutput(dir, ["tag", "-l", "--format=%(contents)", name]),
        );
      }
    };
    expectSame();
    git(dir, ["gc", "-q"]);
    expect(readdirSync(join(dir, ".git", "refs", "tags"))).toEqual([]);
    expectSame();
    // A name git would read as a pattern, a tag that is not there.
    expect(tagContentsFromFiles(dir, "a*")).toBeUndefined();
    expect(tagContentsFromFiles(dir, "missing")).toBeUndefined();
    expect(readPipelineContext({ repoDir: dir, tag: "signed" }).tagMessage).toBe(
      "Signed release\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAd\n-----END PGP SIGNATURE-----",
    );
  });
});

describe("headCommitFromFiles leaves unusual repositories to git", () => {
  it("shallow clones, replace refs, grafts, SHA-256, unborn branches, log encodings", () => {
    const dir = newRepository();
    commitAll(dir, "one\n");
    const two = commitAll(dir, "two\n");
    expect(headCommitFromFiles(dir)).toBeDefined();

    const shallow = join(root, `shallow-${++counter}`);
    git(root, ["clone", "-q", "--depth", "1", `file://${dir}`, shallow]);
    expect(headCommitFromFiles(shallow)).toBeUndefined();
    const context = readPipelineContext({ repoDir: shallow });
    expect(context.sha).toBe(two);
    expect(context.commit.message).toBe("two\n");

    git(dir, ["replace", "HEAD", "HEAD~1"]);
    expect(headCommitFromFiles(dir)).toBeUndefined();
    git(dir, ["replace", "-d", two]);
    expect(headCommitFromFiles(dir)).toBeDefined();

    writeFileSync(join(dir, ".git", "info", "grafts"), `${two}\n`);
    expect(headCommitFromFiles(dir)).toBeUndefined();
    rmSync(join(dir, ".git", "info", "grafts"));

    git(dir, ["config", "i18n.logOutputEncoding", "ISO-8859-1"]);
    expect(headCommitFromFiles(dir)).toBeUndefined();
    git(dir, ["config", "--unset", "i18n.logOutputEncoding"]);
    expect(headCommitFromFiles(dir)).toBeDefined();

    const sha256 = join(root, `sha256-${++counter}`);
    mkdirSync(sha256);
    git(sha256, ["init", "-q", "--object-format=sha256", "-b", "main"]);
    expect(headCommitFromFiles(sha256)).toBeUndefined();
    commitAll(sha256, "sha256\n");
    expect(headCommitFromFiles(sha256)).toBeUndefined();
    expect(readPipelineContext({ repoDir: sha256 }).commit.message).toBe("sha256\n");

    expect(headCommitFromFiles(newRepository())).toBeUndefined();
  });
});

describe("the pipeline context", () => {
  it("reads HEAD's commit without spawning git log, and with it when the files are not enough", () => {
    const dir = newRepository();
    commitAll(dir, "base\n");
    commitAll(dir, "Add things\n\nWith a body.\n", {
      GIT_COMMITTER_DATE: "@1700000000 +0200",
    });
    const shimDir = join(root, `shim-${++counter}`);
    const log = join(shimDir, "calls.log");
    const realGit = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
    mkdirSync(shimDir);
    writeFileSync(
      join(shimDir, "git"),
      `#!/bin/sh\necho "$1" >> '${log}'\nexec '${realGit}' "$@"\n`,
    );
    chmodSync(join(shimDir, "git"), 0o755);
    const calls = (): string[] => {
      try {
        return readFileSync(log, "utf8").trim().split("\n");
      } catch {
        return [];
      }
    };
    const savedPath = process.env["PATH"];
    process.env["PATH"] = `${shimDir}:${savedPath ?? ""}`;
    try {
      const context = readPipelineContext({ repoDir: dir });
      expect(context.commit).toMatchObject({
        title: "Add things",
        description: "\nWith a body.",
        author: "Ada Lovelace <ada@example.com>",
        timestamp: "2023-11-14T22:13:20Z",
      });
      expect(context.beforeSha).toBe(git(dir, ["rev-parse", "HEAD~1"]));
      expect(calls()).not.toContain("log");

      git(dir, ["replace", "HEAD~1", "HEAD"]);
      readPipelineContext({ repoDir: dir });
      expect(calls()).toContain("log");
    } finally {
      process.env["PATH"] = savedPath;
    }
  });
});
