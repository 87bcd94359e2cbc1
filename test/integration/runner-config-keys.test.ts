import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ownerLabelValue } from "../../src/gc/owner-labels.ts";
import { parseRunnerConfig, type RunnerConfig } from "../../src/runner/config-toml.ts";
import type { FakeGitLab, FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import { startRunnerFixture, type RunnerFixture } from "../support/runner-fixture.ts";
import { dockerOk, requireDocker } from "./docker-helpers.ts";

let fixture: RunnerFixture;
let fake: FakeGitLab;
let token: string;
let cacheDir: string;

beforeEach(async () => {
  fixture = await startRunnerFixture({ "hello.txt": "hello through clone_url\n" });
  ({ fake, token } = fixture);
  cacheDir = join(fixture.stateDir, "configured-cache");
});

afterEach(async () => {
  await fixture.close();
});

/** A config.toml using every per-runner key that changes what a job sees. */
function configWith(executor: "shell" | "docker"): RunnerConfig {
  const { config, warnings } = parseRunnerConfig(`concurrent = 1
[[runners]]
  name = "keys"
  url = "${fake.url}"
  token = "${token}"
  executor = "${executor}"
  clone_url = "${fake.url}"
  cache_dir = "${cacheDir}"
  environment = ["FROM_CONFIG=configured value", "WITH_EQUALS=a=b", "OVERRIDDEN=by config"]
  pre_build_script = """
export FROM_PRE_BUILD=set-before-before_script
echo "pre_build_script ran"
"""
  post_build_script = 'echo "post_build_script sees $FROM_SCRIPT"'
  [runners.feature_flags]
    FF_SCRIPT_SECTIONS = true
    FF_USE_FASTZIP = false
  [runners.docker]
    image = "busybox:latest"
    pull_policy = ["never"]
`);
  expect(warnings).toEqual([]);
  return config;
}

/** A job whose payload names a GitLab host no one can reach: only clone_url gets the sources. */
function queueKeysJob(script: string[]): FakeJob {
  const job = fake.queueJob({
    script,
    variables: [{ key: "OVERRIDDEN", value: "by the job", public: true }],
  });
  job.payload.git_info.repo_url = `http://gitlab-ci-token:${job.token}@gitlab.invalid/group/project.git`;
  job.payload.cache = [
    { key: "deps", untracked: false, policy: "pull-push", paths: ["cached/"], when: "on_success" },
  ];
  return job;
}

const keysScript = [
  "cat hello.txt",
  'echo "environment: $FROM_CONFIG / $WITH_EQUALS / $OVERRIDDEN"',
  'echo "flags: $FF_SCRIPT_SECTIONS $FF_USE_FASTZIP"',
  'echo "pre_build export: $FROM_PRE_BUILD"',
  "export FROM_SCRIPT=exported-by-script",
  "mkdir -p cached && echo kept > cached/file",
];

function expectKeysApplied(job: FakeJob): void {
  expect(fake.violations).toEqual([]);
  expect(job.final).toMatchObject({ state: "success" });
  const trace = job.trace.toString();
  expect(trace).toContain("hello through clone_url");
  expect(trace).toContain("environment: configured value / a=b / by the job");
  expect(trace).toContain("flags: true false");
  expect(trace).toContain("pre_build_script ran");
  expect(trace).toContain("pre_build export: set-before-before_script");
  expect(trace).toContain("post_build_script sees exported-by-script");
  expect(trace.indexOf("pre_build_script ran")).toBeLessThan(trace.indexOf("$ cat hello.txt"));
  // gitlab-runner's layout under cache_dir: <cache_dir>/<project path>/<key>/cache.zip
  expect(existsSync(join(cacheDir, "group", "project", "deps", "cache.zip"))).toBe(true);
}

describe("config.toml keys that shape a runner job", () => {
  it("shell executor: clone_url, cache_dir, environment, feature flags, pre/post_build_script", async () => {
    const job = queueKeysJob(keysScript);
    fixture.startService(configWith("shell"));
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expectKeysApplied(job);
  });

  it("shell executor: post_build_script does not run when the script fails", async () => {
    const job = queueKeysJob(["exit 4"]);
    fixture.startService(configWith("shell"));
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expect(job.final).toMatchObject({ state: "failed", exit_code: 4 });
    expect(job.trace.toString()).toContain("pre_build_script ran");
    expect(job.trace.toString()).not.toContain("post_build_script sees");
  });

  it("says in the job log that the payload's hooks:pre_get_sources_script is not run", async () => {
    const marker = join(fixture.stateDir, "hook-ran");
    const job = queueKeysJob(["cat hello.txt"]);
    job.payload.hooks = [{ name: "pre_get_sources_script", script: [`touch ${marker}`] }];
    fixture.startService(configWith("shell"));
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expect(job.final).toMatchObject({ state: "success" });
    const trace = job.trace.toString();
    expect(trace).toContain("WARNING: hooks:pre_get_sources_script is not run");
    expect(trace).toContain("hello through clone_url");
    expect(existsSync(marker)).toBe(false);
  });

  it("docker executor: the same keys, and nothing left behind", async () => {
    await requireDocker();
    const job = queueKeysJob(keysScript);
    const service = fixture.startService(configWith("docker"));
    await fake.waitFor(() => job.final !== undefined, 180_000);
    expectKeysApplied(job);
    await service.stopGracefully();
    const owner = `label=pier.owner=${ownerLabelValue()}`;
    expect(await dockerOk(["ps", "-a", "--filter", owner, "--format", "{{.Names}}"])).toBe("");
  }, 240_000);
});
