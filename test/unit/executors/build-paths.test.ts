import { describe, expect, it } from "vitest";
import { containerBuildsDir } from "../../../src/executors/docker/container-builds-dir.ts";
import {
  buildPathsFor,
  projectKeyFor,
  withoutCredentials,
} from "../../../src/executors/shell/build-paths.ts";
import type { JobSpec } from "../../../src/job/spec.ts";

function specFor(repoUrl: string, projectPath = "group/project"): JobSpec {
  return {
    git_info: { repo_url: repoUrl },
    job_info: { project_full_path: projectPath },
  } as JobSpec;
}

describe("projectKeyFor", () => {
  it("gives every runner job of one project the same key, whatever job token the URL holds", () => {
    const first = projectKeyFor(
      specFor("https://gitlab-ci-token:glcbt-aaaa@gitlab.example.com/group/project.git"),
      undefined,
    );
    const second = projectKeyFor(
      specFor("https://gitlab-ci-token:glcbt-bbbb@gitlab.example.com/group/project.git"),
      undefined,
    );
    const bare = projectKeyFor(specFor("https://gitlab.example.com/group/project.git"), undefined);
    expect(second).toBe(first);
    expect(bare).toBe(first);
  });

  it("still tells projects apart: another repository, another path, a local checkout", () => {
    const url = "https://gitlab-ci-token:t@gitlab.example.com/group/project.git";
    const key = projectKeyFor(specFor(url), undefined);
    expect(
      projectKeyFor(specFor("https://gitlab.example.com/group/other.git"), undefined),
    ).not.toBe(key);
    expect(projectKeyFor(specFor(url, "group/other"), undefined)).not.toBe(key);
    expect(projectKeyFor(specFor(url), "/home/me/project")).not.toBe(key);
    expect(key).toMatch(/^[0-9a-f]{12}$/);
  });

  it("leaves what is not a URL as it is", () => {
    expect(withoutCredentials("git@gitlab.example.com:group/project.git")).toBe(
      "git@gitlab.example.com:group/project.git",
    );
    expect(withoutCredentials("https://user:secret@host/x.git")).toBe("https://host/x.git");
  });
});

describe("buildPathsFor", () => {
  const base = {
    stateDir: "/state",
    concurrentId: 3,
    projectKey: "abc123def456",
    projectConcurrentId: 1,
    projectPath: "group/project",
  };

  it("lays builds out under pier's state dir by default", () => {
    const paths = buildPathsFor(base);
    expect(paths.buildsDir).toBe("/state/builds/3/abc123def456/1");
    expect(paths.projectDir).toBe("/state/builds/3/abc123def456/1/group/project");
    expect(paths.tmpDir).toBe("/state/builds/3/abc123def456/1/group/project.tmp");
  });

  it("follows gitlab-runner's layout under builds_dir: <short token>/<project slot>/<path>", () => {
    const paths = buildPathsFor({
      ...base,
      buildsDir: "/srv/builds",
      runnerShortToken: "xyz789abc",
    });
    expect(paths.buildsDir).toBe("/srv/builds");
    expect(paths.projectDir).toBe("/srv/builds/xyz789abc/1/group/project");
    expect(paths.homeDir).toBe("/srv/builds/xyz789abc/1/group/project.tmp/home");
  });

  it("puts the project key in the short token's place outside runner mode", () => {
    const paths = buildPathsFor({ ...base, buildsDir: "/srv/builds/" });
    expect(paths.projectDir).toBe("/srv/builds/abc123def456/1/group/project");
  });
});

describe("containerBuildsDir", () => {
  it("is /builds unless builds_dir names another absolute path", () => {
    expect(containerBuildsDir(undefined)).toBe("/builds");
    expect(containerBuildsDir("")).toBe("/builds");
    expect(containerBuildsDir("relative/dir")).toBe("/builds");
    expect(containerBuildsDir("/")).toBe("/builds");
    expect(containerBuildsDir("/ci/builds/")).toBe("/ci/builds");
    expect(containerBuildsDir("/ci//work/../builds")).toBe("/ci/builds");
  });
});
