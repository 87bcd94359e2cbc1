import { describe, expect, it } from "vitest";
import { parseCommit, strictIsoDate } from "../../../../src/pipeline/context/git-commit.ts";

const tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const parent = "a".repeat(40);
const author = "author Ada Lovelace <ada@example.com> 1700000000 +0000";
const committer = "committer C <c@example.com> 1700000000 +0000";

function commit(...lines: string[]): Buffer {
  return Buffer.from(lines.join("\n"));
}

describe("strictIsoDate", () => {
  it("prints the time in the stored offset as git's %cI", () => {
    expect(strictIsoDate(1700000000, "+0000")).toBe("2023-11-14T22:13:20+00:00");
    expect(strictIsoDate(1700000000, "-0000")).toBe("2023-11-14T22:13:20+00:00");
    expect(strictIsoDate(1700000000, "+0530")).toBe("2023-11-15T03:43:20+05:30");
    expect(strictIsoDate(1700000000, "-0800")).toBe("2023-11-14T14:13:20-08:00");
    expect(strictIsoDate(0, "+1400")).toBe("1970-01-01T14:00:00+14:00");
  });

  it("leaves dates git clamps or refuses to git", () => {
    expect(strictIsoDate(0, "-0100")).toBeUndefined();
    expect(strictIsoDate(253402300800, "+0000")).toBeUndefined();
  });
});

describe("parseCommit", () => {
  it("reads parents right after the tree, the author, the message", () => {
    const parsed = parseCommit(
      commit(
        `tree ${tree}`,
        `parent ${parent}`,
        `parent ${"B".repeat(40)}`,
        author,
        committer,
        "",
        "Title",
        "",
      ),
    );
    expect(parsed).toEqual({
      tree,
      parents: [parent, "b".repeat(40)],
      authorName: "Ada Lovelace",
      authorEmail: "ada@example.com",
      committerDate: "2023-11-14T22:13:20+00:00",
      message: "Title\n",
    });
  });

  it("trims the space before the email and keeps an empty name", () => {
    const parsed = parseCommit(
      commit(`tree ${tree}`, "author  \t<nobody@example.com> 1 +0000", committer, "", ""),
    );
    expect(parsed?.authorName).toBe("");
    expect(parsed?.authorEmail).toBe("nobody@example.com");
  });

  it("gives undefined for what git would print otherwise", () => {
    const valid = [`tree ${tree}`, author, committer, "", "message"];
    expect(parseCommit(commit(...valid))).toBeDefined();
    // No blank line after the header, a missing tree, a broken parent, NUL bytes.
    expect(parseCommit(commit(`tree ${tree}`, author, committer))).toBeUndefined();
    expect(parseCommit(commit(author, committer, "", "m"))).toBeUndefined();
    expect(
      parseCommit(commit(`tree ${tree}`, "parent xyz", author, committer, "", "m")),
    ).toBeUndefined();
    expect(parseCommit(Buffer.from(`${valid.join("\n")}\0`))).toBeUndefined();
    // Idents git parses leniently, and encodings Node cannot match byte for byte.
    expect(
      parseCommit(commit(`tree ${tree}`, "author A <a> 1 +00", committer, "", "m")),
    ).toBeUndefined();
    expect(
      parseCommit(commit(`tree ${tree}`, "author A a 1 +0000", committer, "", "m")),
    ).toBeUndefined();
    expect(
      parseCommit(commit(`tree ${tree}`, author, committer, "encoding windows-1252", "", "m")),
    ).toBeUndefined();
  });

  it("decodes ISO-8859-1 when the encoding header says so, UTF-8 otherwise", () => {
    const body = Buffer.from("caf\xe9\n", "latin1");
    const header = (encoding: string): Buffer =>
      Buffer.from(`tree ${tree}\n${author}\n${committer}\n${encoding}\n\n`);
    expect(parseCommit(Buffer.concat([header("encoding ISO-8859-1"), body]))?.message).toBe(
      "café\n",
    );
    expect(parseCommit(Buffer.concat([header("encoding UTF-8"), body]))?.message).toBe(
      "caf\ufffd\n",
    );
  });
});
