import { describe, expect, it } from "vitest";
import { onlyExceptAllows, type OnlyExcept } from "../../../../src/pipeline/rules/only-except.ts";
import { contextFixture, type FixtureOptions } from "./context-fixture.ts";

function allows(
  only: OnlyExcept | undefined,
  except: OnlyExcept | undefined,
  fixture: FixtureOptions = {},
): boolean {
  const variables = new Map([["DEPLOY", "yes"]]);
  return onlyExceptAllows(only, except, {
    lookup: (name) => variables.get(name),
    context: contextFixture(fixture),
  });
}

describe("only/except refs", () => {
  it.each<[string[], FixtureOptions, boolean]>([
    [["branches"], {}, true],
    [["branches"], { refType: "tag", refName: "v1" }, false],
    [["tags"], { refType: "tag", refName: "v1" }, true],
    [["branches", "tags"], { source: "merge_request_event" }, false],
    [["merge_requests"], { source: "merge_request_event" }, true],
    [["pushes"], {}, true],
    [["schedules"], { source: "schedule" }, true],
    [["schedules"], {}, false],
    [["web"], { source: "web" }, true],
    [["api"], { source: "api" }, true],
    [["triggers"], { source: "trigger" }, true],
    [["pipelines"], { source: "pipeline" }, true],
    [["pipelines"], { source: "parent_pipeline" }, true],
    [["external_pull_requests"], { source: "external_pull_request_event" }, true],
    [["chat"], { source: "chat" }, true],
    [["main"], {}, true],
    [["develop"], {}, false],
    [["/^release-.*$/"], { refName: "release-1.2" }, true],
    [["/^release-.*$/"], { refName: "hotfix" }, false],
    [["/^RELEASE/i"], { refName: "release-1" }, true],
    [["/^v\\d+/"], { refType: "tag", refName: "v12" }, true],
    [["main@group/project"], {}, true],
    [["main@other/project"], {}, false],
    [["/^main$/"], { source: "merge_request_event" }, false],
  ])("only %j with %j is %s", (refs, fixture, expected) => {
    expect(allows({ refs }, undefined, fixture)).toBe(expected);
  });

  it("except excludes what matches", () => {
    expect(allows(undefined, { refs: ["main"] })).toBe(false);
    expect(allows(undefined, { refs: ["develop"] })).toBe(true);
    expect(allows({ refs: ["branches"] }, { refs: ["main"] })).toBe(false);
  });
});

describe("only/except variables, changes, kubernetes", () => {
  it("variables: any expression true", () => {
    expect(allows({ variables: ['$DEPLOY == "no"', "$DEPLOY"] }, undefined)).toBe(true);
    expect(allows({ variables: ['$DEPLOY == "no"'] }, undefined)).toBe(false);
    expect(allows(undefined, { variables: ["$DEPLOY"] })).toBe(false);
  });

  it("every only policy must hold", () => {
    expect(allows({ refs: ["main"], variables: ["$DEPLOY"] }, undefined)).toBe(true);
    expect(allows({ refs: ["develop"], variables: ["$DEPLOY"] }, undefined)).toBe(false);
  });

  it("changes: any path matches; always true without a diff base", () => {
    expect(allows({ changes: ["src/**/*"] }, undefined, { pushed: ["src/a/b.ts"] })).toBe(true);
    expect(allows({ changes: ["docs/*"] }, undefined, { pushed: ["src/a/b.ts"] })).toBe(false);
    expect(allows({ changes: ["docs/*"] }, undefined, { refType: "tag", refName: "v1" })).toBe(
      true,
    );
    // So `except: changes` never runs the job on tags.
    expect(allows(undefined, { changes: ["docs/*"] }, { refType: "tag", refName: "v1" })).toBe(
      false,
    );
  });

  it("kubernetes: active never holds locally", () => {
    expect(allows({ kubernetes: "active" }, undefined)).toBe(false);
    expect(allows(undefined, { kubernetes: "active" })).toBe(true);
  });

  it("no only and no except allows", () => {
    expect(allows(undefined, undefined)).toBe(true);
  });
});
