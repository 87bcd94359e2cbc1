import { describe, expect, it } from "vitest";
import { globMatches, isLiteralGlob } from "../../../../src/pipeline/rules/glob.ts";

describe("globs as Ruby's File.fnmatch? with PATHNAME | DOTMATCH | EXTGLOB", () => {
  it.each<[string, string, boolean]>([
    ["README.md", "README.md", true],
    ["README.md", "docs/README.md", false],
    ["*.md", "README.md", true],
    ["*.md", "docs/a.md", false],
    ["*", ".env", true],
    ["*", "docs/a", false],
    ["**/*.md", "README.md", true],
    ["**/*.md", "docs/a.md", true],
    ["**/*.md", "docs/deep/er/a.md", true],
    ["**/*.md", ".github/x.md", true],
    ["**/*", ".github/workflows/x.yml", true],
    ["docs/**/*", "docs/a/b.md", true],
    ["docs/**/*", "docs/b.md", true],
    ["docs/**/*", "other/b.md", false],
    // `**` not followed by `/` is a plain `*`.
    ["docs/**", "docs/a", true],
    ["docs/**", "docs/a/b", false],
    ["a**b", "axxb", true],
    ["{src,lib}/*.ts", "lib/a.ts", true],
    ["{src,lib}/*.ts", "test/a.ts", false],
    ["src/{a,b{c,d}}.ts", "src/bd.ts", true],
    ["src/*.{js,ts}", "src/x.ts", true],
    ["file?.txt", "file1.txt", true],
    ["file?.txt", "file10.txt", false],
    ["?", "/", false],
    ["[abc].txt", "b.txt", true],
    ["[!abc].txt", "d.txt", true],
    ["[^abc].txt", "a.txt", false],
    ["[a-c]x", "bx", true],
    ["a[/]b", "a/b", false],
    ["a(b|c)", "ab", false],
    ["a(b|c)", "a(b|c)", true],
    ["\\*.md", "*.md", true],
    ["\\*.md", "a.md", false],
    ["Dockerfile", "dockerfile", false],
    [".gitlab-ci.yml", ".gitlab-ci.yml", true],
    ["a+b.txt", "a+b.txt", true],
    ["[unclosed", "[unclosed", true],
  ])("%s ~ %s is %s", (glob, path, expected) => {
    expect(globMatches(glob, path)).toBe(expected);
  });

  it("recognises globs without wildcards", () => {
    expect(isLiteralGlob("src/main.ts")).toBe(true);
    expect(isLiteralGlob("src/*.ts")).toBe(false);
    expect(isLiteralGlob("src/{a,b}.ts")).toBe(false);
  });
});
