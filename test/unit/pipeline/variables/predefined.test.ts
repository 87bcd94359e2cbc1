import { describe, expect, it } from "vitest";
import { projectIdentity } from "../../../../src/pipeline/context/project-identity.ts";
import { slugify } from "../../../../src/pipeline/context/slugify.ts";

describe("slugify (CI_COMMIT_REF_SLUG)", () => {
  it.each<[string, string]>([
    ["main", "main"],
    ["feature/Login_Page", "feature-login-page"],
    ["-leading-and-trailing-", "leading-and-trailing"],
    ["v1.2.3", "v1-2-3"],
    ["Ünïcödé/branch", "n-c-d--branch"],
    ["emoji-🚀-x", "emoji---x"],
    ["a".repeat(70), "a".repeat(63)],
    [`${"a".repeat(62)}/b`, "a".repeat(62)],
    ["///", ""],
  ])("%s -> %s", (input, expected) => {
    expect(slugify(input)).toBe(expected);
  });
});

describe("project identity from the origin URL", () => {
  it.each<[string | undefined, string, string, string | undefined]>([
    ["git@gitlab.com:group/project.git", "group/project", "group", "https://gitlab.com"],
    ["git@gitlab.com:group/sub/project", "group/sub/project", "group/sub", "https://gitlab.com"],
    [
      "ssh://git@gitlab.example.com:2222/group/project.git",
      "group/project",
      "group",
      "https://gitlab.example.com",
    ],
    [
      "https://gitlab.example.com/group/project.git",
      "group/project",
      "group",
      "https://gitlab.example.com",
    ],
    [
      "https://user:token@gitlab.example.com:8443/a/b/c.git",
      "a/b/c",
      "a/b",
      "https://gitlab.example.com:8443",
    ],
    ["http://localhost:8080/group/project", "group/project", "group", "http://localhost:8080"],
    ["/srv/git/project.git", "local/my-dir", "local", undefined],
    ["file:///srv/git/project.git", "local/my-dir", "local", undefined],
    [undefined, "local/my-dir", "local", undefined],
  ])("%s", (url, path, namespace, serverUrl) => {
    const identity = projectIdentity(url, "/home/me/my-dir");
    expect(identity.path).toBe(path);
    expect(identity.namespace).toBe(namespace);
    expect(identity.serverUrl).toBe(serverUrl);
  });
});
