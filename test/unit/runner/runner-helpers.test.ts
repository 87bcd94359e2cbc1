import { describe, expect, it } from "vitest";
import type { JobSpec } from "../../../src/job/spec.ts";
import { failureReasonFor } from "../../../src/runner/failure-reasons.ts";
import { apiBase, backoffDelayMs, serverDelayMs } from "../../../src/runner/gitlab-client.ts";
import { createRunnerLog } from "../../../src/runner/runner-log.ts";
import { cloneUrlFor, jobSpecForRunner } from "../../../src/runner/runner-job-spec.ts";
import { shortToken } from "../../../src/runner/short-token.ts";

describe("GitLab client helpers", () => {
  it("builds the API base from config.toml's url, dropping a legacy /ci", () => {
    expect(apiBase("https://gitlab.example.com/")).toBe("https://gitlab.example.com/api/v4/");
    expect(apiBase("https://gitlab.example.com/ci")).toBe("https://gitlab.example.com/api/v4/");
    expect(apiBase("https://host/gitlab")).toBe("https://host/gitlab/api/v4/");
  });

  it("reads Retry-After as seconds or a date, and RateLimit-ResetTime", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(serverDelayMs(new Headers({ "Retry-After": "7" }), now)).toBe(7000);
    expect(
      serverDelayMs(new Headers({ "Retry-After": "Thu, 01 Jan 2026 00:00:05 GMT" }), now),
    ).toBe(5000);
    expect(
      serverDelayMs(new Headers({ "RateLimit-ResetTime": "Thu, 01 Jan 2026 00:00:02 GMT" }), now),
    ).toBe(2000);
    expect(serverDelayMs(new Headers(), now)).toBeUndefined();
  });

  it("backs off exponentially with jitter, capped", () => {
    for (let attempt = 0; attempt < 10; attempt += 1) {
      const ceiling = Math.min(10_000, 100 * 2 ** attempt);
      const delay = backoffDelayMs(attempt, 100, 10_000);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe("failure reasons", () => {
  const current = [
    "script_failure",
    "runner_system_failure",
    "image_pull_failure",
    "unknown_failure",
  ];
  it("sends what GitLab lists, else a compatible reason, else unknown_failure", () => {
    expect(failureReasonFor(undefined, current)).toBe("script_failure");
    expect(failureReasonFor("image_pull_failure", current)).toBe("image_pull_failure");
    expect(failureReasonFor("image_pull_failure", [])).toBe("runner_system_failure");
    expect(failureReasonFor("job_execution_timeout", [])).toBe("job_execution_timeout");
    expect(failureReasonFor("job_canceled", current)).toBe("unknown_failure");
  });
});

describe("short token", () => {
  it("strips GitLab's prefixes and keeps 9 characters", () => {
    expect(shortToken("glrt-t1_abcdefghijklmnop")).toBe("abcdefghi");
    expect(shortToken("glrt-abcdefghijklmnop")).toBe("abcdefghi");
    expect(shortToken("GR1348941abcdefghijkl")).toBe("abcdefghi");
    expect(shortToken("0123456789abcdef")).toBe("012345678");
  });
});

describe("runner log", () => {
  it("writes text or JSON lines at or above the level", () => {
    const lines: string[] = [];
    const json = createRunnerLog({ format: "json", level: "warn" }, (line) => lines.push(line));
    json.info("hidden");
    json.warn("shown", { job: 3 });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: "warning", msg: "shown", job: 3 });
    const text = createRunnerLog({}, (line) => lines.push(line));
    text.info("hello", { runner: "abc" });
    expect(lines[1]).toMatch(/^\S+Z INFO {2}hello runner="abc"\n$/);
  });
});

describe("the job as the runner runs it", () => {
  const job = {
    id: 1,
    token: "glcbt-jobtoken",
    job_info: { project_full_path: "group/project" },
    git_info: { repo_url: "https://gitlab-ci-token:glcbt-jobtoken@gitlab.test/group/project.git" },
    variables: [
      { key: "A", value: "from the job", public: true, masked: false, file: false, raw: false },
    ],
    steps: [
      { name: "script", script: ["make"], timeout: 60, when: "on_success", allow_failure: false },
      {
        name: "after_script",
        script: ["echo bye"],
        timeout: 60,
        when: "always",
        allow_failure: true,
      },
    ],
  } as unknown as JobSpec;

  it("adds config.toml's environment and feature flags before the job's variables", () => {
    const spec = jobSpecForRunner(job, {
      name: "r",
      url: "",
      token: "",
      executor: "shell",
      environment: ["A=from config", "B=x=y"],
      featureFlags: { FF_TIMESTAMPS: false },
      extra: {},
    });
    expect(spec.variables.map((v) => [v.key, v.value])).toEqual([
      ["A", "from config"],
      ["B", "x=y"],
      ["FF_TIMESTAMPS", "false"],
      ["A", "from the job"],
    ]);
    expect(spec.services).toEqual([]);
    expect(spec.git_info.repo_url).toBe(job.git_info.repo_url);
  });

  it("wraps the script in pre_build_script and post_build_script and clones from clone_url", () => {
    const spec = jobSpecForRunner(job, {
      name: "r",
      url: "",
      token: "",
      executor: "shell",
      preBuildScript: "echo pre",
      postBuildScript: "echo post",
      cloneUrl: "http://git.internal:8080/",
      extra: {},
    });
    expect(spec.steps[0]!.script).toEqual(["echo pre", "make", "echo post"]);
    expect(spec.steps[1]!.script).toEqual(["echo bye"]);
    expect(spec.git_info.repo_url).toBe(
      "http://gitlab-ci-token:glcbt-jobtoken@git.internal:8080/group/project.git",
    );
    expect(cloneUrlFor("https://h/prefix", "a/b", "t")).toBe(
      "https://gitlab-ci-token:t@h/prefix/a/b.git",
    );
  });
});
