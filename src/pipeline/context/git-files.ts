import { existsSync, readdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { readGitObjects } from "./git-objects.ts";
import { locateRepository, readText as read } from "./git-repository.ts";

/**
 * What `git rev-parse --show-toplevel --symbolic-full-name HEAD` prints, read from the files:
 * a spawn costs pier several milliseconds of its main thread. Undefined when git must be asked
 * (not the top of a repository or worktree, unborn branch, anything unusual).
 */
export function topLevelFromFiles(
  repoDir: string,
  repo = locateRepository(repoDir),
): string | undefined {
  if (repo === undefined) return undefined;
  const head = read(join(repo.gitDir, "HEAD"))?.trim();
  if (head === undefined) return undefined;
  let name: string;
  if (/^[0-9a-f]{40}$/.test(head)) name = "HEAD";
  else {
    const symbolic = /^ref: (refs\/heads\/\S+)$/.exec(head)?.[1];
    // An unborn branch makes rev-parse fail: leave that to git.
    if (symbolic === undefined || refObject(repo.commonDir, symbolic) === undefined)
      return undefined;
    name = symbolic;
  }
  return `${realpathSync.native(repoDir)}\n${name}\n`;
}

/** What `git config --get remote.origin.url` prints, or undefined (then ask git). */
export function originUrlFromFiles(
  repoDir: string,
  repo = locateRepository(repoDir),
): { url: string | undefined } | undefined {
  if (repo === undefined) return undefined;
  let section = "";
  let url: string | undefined;
  for (const raw of repo.config.split("\n")) {
    const line = raw.trim();
    const header = /^\[\s*([^\]]*?)\s*\]$/.exec(line)?.[1];
    if (header !== undefined) {
      section = header.toLowerCase();
      continue;
    }
    if (section !== 'remote "origin"') continue;
    const entry = /^url\s*=\s*(.*)$/i.exec(line)?.[1];
    if (entry === undefined) continue;
    // Quotes, escapes or comments after the value: leave the parsing to git.
    if (/["\\;#]/.test(entry)) return undefined;
    url = entry.trim();
  }
  return { url: url === undefined ? undefined : `${url}\n` };
}

/** The object a loose or packed ref names, read from the common directory. */
export function refObject(commonDir: string, name: string): string | undefined {
  const loose = read(join(commonDir, name))?.trim();
  if (loose !== undefined) return /^[0-9a-f]{40}$/.test(loose) ? loose : undefined;
  const packed = read(join(commonDir, "packed-refs")) ?? "";
  return packed
    .split("\n")
    .find((line) => line.endsWith(` ${name}`))
    ?.slice(0, 40);
}

function looseRefs(gitDir: string, prefix: string, into: Map<string, string>): void {
  const dir = join(gitDir, prefix);
  // Often absent (no tags, no remote): existsSync spares the cost of a thrown error.
  if (!existsSync(dir)) return;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const name = `${prefix}/${entry.name}`;
    if (entry.isDirectory()) looseRefs(gitDir, name, into);
    else if (!entry.name.endsWith(".lock")) into.set(name, read(join(gitDir, name))?.trim() ?? "");
  }
}

/** More loose tags than this: one git process reads them faster than pier reads the objects. */
const MAX_LOOSE_TAGS = 64;

/**
 * What `%(*objectname)` prints for each loose tag: the object an annotated tag names (one
 * level, as for-each-ref peels), empty for a lightweight tag. Undefined when an object cannot
 * be read.
 */
function peelLooseTags(commonDir: string, objects: string[]): string[] | undefined {
  if (objects.length > MAX_LOOSE_TAGS) return undefined;
  const read = readGitObjects(join(commonDir, "objects"), objects);
  if (read === undefined) return undefined;
  const peeled: string[] = [];
  for (const object of read) {
    if (object.type !== "tag") {
      peeled.push("");
      continue;
    }
    const target = /^object ([0-9a-f]{40})\n/.exec(object.data.toString("latin1", 0, 48))?.[1];
    if (target === undefined) return undefined;
    peeled.push(target);
  }
  return peeled;
}

/**
 * What the context's `git for-each-ref` prints (name, object, peeled object, symref; sorted by
 * name) for refs/heads, refs/tags and refs/remotes/origin, from the loose and packed refs (and
 * the objects of loose tags, to peel annotated ones). Undefined when git must be asked: packed
 * refs without their peeled objects, a symbolic ref other than origin's HEAD, a tag object
 * that cannot be read.
 */
export function refsFromFiles(
  repoDir: string,
  repo = locateRepository(repoDir),
): string | undefined {
  if (repo === undefined) return undefined;
  const refs = new Map<string, { object: string; peeled: string; symref: string }>();
  const packed = read(join(repo.commonDir, "packed-refs"));
  if (packed !== undefined) {
    const lines = packed.split("\n");
    const traits = lines[0]?.startsWith("# pack-refs with:") === true ? lines[0] : "";
    if (!/ peeled/.test(traits) && packed.includes("refs/tags/")) return undefined;
    let last: { object: string; peeled: string; symref: string } | undefined;
    for (const line of lines) {
      if (line === "" || line.startsWith("#")) continue;
      if (line.startsWith("^")) {
        if (last !== undefined) last.peeled = line.slice(1, 41);
        continue;
      }
      const match = /^([0-9a-f]{40}) (refs\/\S+)$/.exec(line);
      if (match?.[1] === undefined || match[2] === undefined) return undefined;
      last = { object: match[1], peeled: "", symref: "" };
      refs.set(match[2], last);
    }
  }
  const loose = new Map<string, string>();
  for (const prefix of ["refs/heads", "refs/tags", "refs/remotes/origin"]) {
    looseRefs(repo.commonDir, prefix, loose);
  }
  const looseTags: { object: string; peeled: string; symref: string }[] = [];
  for (const [name, content] of loose) {
    if (/^[0-9a-f]{40}$/.test(content)) {
      const ref = { object: content, peeled: "", symref: "" };
      refs.set(name, ref);
      if (name.startsWith("refs/tags/")) looseTags.push(ref);
      continue;
    }
    const target = /^ref: (refs\/\S+)$/.exec(content)?.[1];
    if (name !== "refs/remotes/origin/HEAD" || target === undefined) return undefined;
    refs.set(name, { object: refObject(repo.commonDir, target) ?? "", peeled: "", symref: target });
  }
  if (looseTags.length > 0) {
    const peeled = peelLooseTags(
      repo.commonDir,
      looseTags.map((tag) => tag.object),
    );
    if (peeled === undefined) return undefined;
    looseTags.forEach((tag, index) => (tag.peeled = peeled[index] ?? ""));
  }
  const wanted = [...refs]
    .filter(([name]) => /^refs\/(heads|tags|remotes\/origin)\//.test(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return wanted.map(([name, r]) => `${name}\0${r.object}\0${r.peeled}\0${r.symref}\n`).join("");
}

/**
 * What `git tag -l --format=%(contents) <name>` prints for one tag: the message of the tag
 * object (or of the commit a lightweight tag names) after its header and the empty lines that
 * follow it, and a newline. Undefined when git must be asked: a name git would read as a
 * pattern, a tag that cannot be read, text in another encoding.
 */
export function tagContentsFromFiles(
  repoDir: string,
  name: string,
  repo = locateRepository(repoDir),
): string | undefined {
  if (/[*?[\\]/.test(name)) return undefined;
  if (repo === undefined) return undefined;
  const sha = refObject(repo.commonDir, `refs/tags/${name}`);
  if (sha === undefined) return undefined;
  const object = readGitObjects(join(repo.commonDir, "objects"), [sha])?.[0];
  if (object === undefined || (object.type !== "tag" && object.type !== "commit")) return undefined;
  const text = object.data.toString("latin1");
  const headerEnd = text.indexOf("\n\n");
  if (object.data.includes(0) || /^encoding /m.test(text.slice(0, headerEnd))) return undefined;
  if (headerEnd < 0) return "\n";
  let start = headerEnd + 1;
  while (text[start] === "\n") start++;
  return `${object.data.subarray(start).toString("utf8")}\n`;
}
