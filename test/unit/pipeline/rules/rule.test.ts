import { describe, expect, it } from "vitest";
import { matchRules, type Rule } from "../../../../src/pipeline/rules/rule.ts";
import { RuleEvaluationError } from "../../../../src/pipeline/rules/rule-error.ts";
import { MAX_EXISTS_PATTERN_COMPARISONS } from "../../../../src/pipeline/rules/exists.ts";
import { contextFixture } from "./context-fixture.ts";

const variables = new Map([
  ["CI_PIPELINE_SOURCE", "push"],
  ["CI_COMMIT_BRANCH", "feature"],
  ["CI_DEFAULT_BRANCH", "main"],
  ["DOCS_DIR", "docs"],
  ["NESTED", "$DOCS_DIR/**/*"],
]);
const lookup = (name: string): string | undefined => variables.get(name);

describe("matchRules", () => {
  const context = contextFixture({ pushed: ["src/app.ts", "docs/guide/intro.md"] });
  const input = { lookup, context };

  it("returns the first matching rule with its index and payload", () => {
    const rules: Rule[] = [
      { if: '$CI_PIPELINE_SOURCE == "schedule"', when: "never" },
      {
        if: "$CI_COMMIT_BRANCH != $CI_DEFAULT_BRANCH",
        when: "manual",
        allowFailure: true,
        variables: { X: "1" },
      },
      { when: "always" },
    ];
    const match = matchRules(rules, input);
    expect(match?.index).toBe(1);
    expect(match?.rule.when).toBe("manual");
    expect(match?.rule.allowFailure).toBe(true);
    expect(match?.rule.variables).toEqual({ X: "1" });
  });

  it("a rule with no clause always matches; no match gives undefined", () => {
    expect(matchRules([{ when: "on_success" }], input)?.index).toBe(0);
    expect(matchRules([{ if: "$NOPE" }], input)).toBeUndefined();
    expect(matchRules([], input)).toBeUndefined();
  });

  it("a malformed if never matches", () => {
    expect(matchRules([{ if: "$A = 1" }, { when: "always" }], input)?.index).toBe(1);
  });

  it("all clauses of a rule must hold", () => {
    const rules: Rule[] = [
      { if: "$CI_COMMIT_BRANCH", changes: { paths: ["README.md"] } },
      { if: "$CI_COMMIT_BRANCH", changes: { paths: ["src/*.ts"] }, exists: ["package.json"] },
      {
        if: "$CI_COMMIT_BRANCH",
        changes: { paths: ["src/*.ts"] },
        exists: ["Makefile"],
        when: "always",
      },
    ];
    const withFiles = {
      lookup,
      context: contextFixture({ pushed: ["src/app.ts"], files: ["Makefile"] }),
    };
    expect(matchRules(rules, withFiles)?.index).toBe(2);
  });

  it.each<[string[], boolean]>([
    [["src/*.ts"], true],
    [["src/**/*.ts"], true],
    [["*.ts"], false],
    [["docs/**/*.md"], true],
    [["$DOCS_DIR/**/*.md"], true],
    [["$NESTED"], true],
    [["README.md"], false],
    [["{lib,src}/app.{js,ts}"], true],
  ])("changes %j is %s", (paths, expected) => {
    expect(matchRules([{ changes: { paths } }], input) !== undefined).toBe(expected);
  });

  it("changes always match without a diff base (tags, new branches, non-push pipelines)", () => {
    for (const context of [
      contextFixture({ refType: "tag", refName: "v1" }),
      contextFixture({ source: "web" }),
    ]) {
      expect(
        matchRules([{ changes: { paths: ["nothing/here"] } }], { lookup, context }),
      ).toBeDefined();
    }
  });

  it("changes with compare_to diff against that ref, even without a diff base", () => {
    const context = contextFixture({
      refType: "tag",
      refName: "v1",
      since: { main: ["src/app.ts"] },
    });
    expect(
      matchRules([{ changes: { paths: ["src/*"], compareTo: "main" } }], { lookup, context }),
    ).toBeDefined();
    expect(
      matchRules([{ changes: { paths: ["docs/*"], compareTo: "main" } }], { lookup, context }),
    ).toBeUndefined();
    expect(
      matchRules([{ changes: { paths: ["src/*"], compareTo: "$CI_DEFAULT_BRANCH" } }], {
        lookup,
        context,
      }),
    ).toBeDefined();
  });

  it("an unknown compare_to ref fails like GitLab", () => {
    const context = contextFixture({ since: {} });
    const rule: Rule = { changes: { paths: ["*"], compareTo: "nope" }, position: { line: 3 } };
    expect(() => matchRules([rule], { lookup, context })).toThrow(RuleEvaluationError);
    try {
      matchRules([rule], { lookup, context });
    } catch (error) {
      expect((error as RuleEvaluationError).message).toBe(
        "rules:changes:compare_to is not a valid ref",
      );
      expect((error as RuleEvaluationError).position).toEqual({ line: 3 });
    }
  });

  it("an empty push changes nothing", () => {
    const context = contextFixture({ pushed: [] });
    expect(matchRules([{ changes: { paths: ["**/*"] } }], { lookup, context })).toBeUndefined();
  });
});

describe("rules:exists", () => {
  const context = contextFixture({
    files: ["Dockerfile", "package.json", "src/app.ts", "docs/guide/intro.md", ".config/tool.yml"],
  });
  const input = { lookup, context };

  it.each<[string[], boolean]>([
    [["Dockerfile"], true],
    [["dockerfile"], false],
    [["app.ts"], false],
    [["src/app.ts"], true],
    [["**/*.md"], true],
    [["**/*.rs"], false],
    [["*.json"], true],
    [["docs/*.md"], false],
    [["docs/**/*.md"], true],
    [[".config/*"], true],
    [["$DOCS_DIR/guide/intro.md"], true],
    [["missing", "package.json"], true],
  ])("%j is %s", (globs, expected) => {
    expect(matchRules([{ exists: globs }], input) !== undefined).toBe(expected);
  });

  it("gives up as a match after GitLab's comparison budget", () => {
    const files = Array.from(
      { length: MAX_EXISTS_PATTERN_COMPARISONS + 5 },
      (_, i) => `f/${i}.txt`,
    );
    const context = contextFixture({ files });
    expect(matchRules([{ exists: ["nothing/*.bin"] }], { lookup, context })).toBeDefined();
    const small = contextFixture({ files: files.slice(0, 100) });
    expect(matchRules([{ exists: ["nothing/*.bin"] }], { lookup, context: small })).toBeUndefined();
  });
});
