import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  formatRunnerConfig,
  parseRunnerConfig,
  readRunnerConfig,
  writeRunnerConfig,
} from "../../../src/runner/config-toml.ts";
import { loadSystemId, newSystemId, systemIdFile } from "../../../src/runner/system-id.ts";

/** What gitlab-runner writes for the seed's runner, with the blog post's edits applied. */
const SEED_CONFIG = `concurrent = 4
check_interval = 0
shutdown_timeout = 0

[session_server]
  session_timeout = 1800

[[runners]]
  name = "GitLab Runner"
  url = "https://gitlab.com/"
  id = 123456
  token = "glrt-super-secret-token"
  token_obtained_at = 2024-03-01T10:20:30Z
  token_expires_at = 0001-01-01T00:00:00Z
  executor = "docker"
  [runners.custom_build_dir]
  [runners.cache]
    MaxUploadedArchiveSize = 0
    [runners.cache.s3]
    [runners.cache.gcs]
    [runners.cache.azure]
  [runners.docker]
    tls_verify = false
    image = "docker:19.03"
    privileged = true
    disable_entrypoint_overwrite = false
    oom_kill_disable = false
    disable_cache = false
    volumes = ["/cache", "/certs/client"]
    shm_size = 0
    network_mtu = 0
`;

const temporary: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "pier-config-toml-"));
  temporary.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("config.toml", () => {
  it("loads the seed's gitlab-runner config as it is", () => {
    const { config, warnings } = parseRunnerConfig(SEED_CONFIG);
    expect(config.global).toEqual({ concurrent: 4, checkInterval: 0, shutdownTimeout: 0 });
    expect(config.runners).toHaveLength(1);
    const runner = config.runners[0]!;
    expect(runner.name).toBe("GitLab Runner");
    expect(runner.url).toBe("https://gitlab.com/");
    expect(runner.id).toBe(123456);
    expect(runner.token).toBe("glrt-super-secret-token");
    expect(runner.executor).toBe("docker");
    expect(runner.tokenObtainedAt?.toISOString()).toBe("2024-03-01T10:20:30.000Z");
    // Go's zero time: "never expires".
    expect(runner.tokenExpiresAt?.getUTCFullYear()).toBe(1);
    expect(runner.docker).toMatchObject({
      image: "docker:19.03",
      privileged: true,
      volumes: ["/cache", "/certs/client"],
      tls_verify: false,
      shm_size: 0,
    });
    expect(runner.extra).toHaveProperty("custom_build_dir");
    expect(config.extra).toHaveProperty("session_server");
    // Settings pier does not support are reported; empty tables and zero sizes are not noise.
    expect(warnings).toEqual([
      'config.toml: "session_server" is not supported by pier; kept as written',
      'config.toml: [[runners]] #1 ("GitLab Runner"): [runners.cache] "MaxUploadedArchiveSize" is not supported by pier (local cache only); kept as written',
    ]);
  });

  it("reads every runner key pier models", () => {
    const { config, warnings } = parseRunnerConfig(`
concurrent = 2
check_interval = 5
log_level = "debug"
log_format = "json"
listen_address = "127.0.0.1:9252"
shutdown_timeout = 30
[[runners]]
  name = "one"
  url = "http://gitlab.test"
  token = "glrt-abc"
  executor = "shell"
  limit = 3
  request_concurrency = 2
  output_limit = 8192
  environment = ["A=1", "B=two"]
  builds_dir = "/b"
  cache_dir = "/c"
  clone_url = "http://git.test"
  pre_get_sources_script = "echo pre-get"
  pre_build_script = "echo pre"
  post_build_script = "echo post"
  tls-ca-file = "/ca.pem"
  [runners.feature_flags]
    FF_TIMESTAMPS = false
[[runners]]
  name = "two"
  url = "http://gitlab.test"
  token = "t2"
  executor = "shell"
  shell = "bash"
`);
    expect(config.global).toEqual({
      concurrent: 2,
      checkInterval: 5,
      logLevel: "debug",
      logFormat: "json",
      listenAddress: "127.0.0.1:9252",
      shutdownTimeout: 30,
    });
    expect(config.runners[0]).toEqual({
      name: "one",
      url: "http://gitlab.test",
      token: "glrt-abc",
      executor: "shell",
      limit: 3,
      requestConcurrency: 2,
      outputLimit: 8192,
      environment: ["A=1", "B=two"],
      buildsDir: "/b",
      cacheDir: "/c",
      cloneUrl: "http://git.test",
      preGetSourcesScript: "echo pre-get",
      preBuildScript: "echo pre",
      postBuildScript: "echo post",
      tlsCaFile: "/ca.pem",
      featureFlags: { FF_TIMESTAMPS: false },
      extra: {},
    });
    expect(warnings).toEqual([
      'config.toml: [[runners]] #2 ("two"): "shell" is not supported by pier; kept as written',
    ]);
  });

  it("keeps what it does not understand when it rewrites the file", () => {
    const { config } = parseRunnerConfig(SEED_CONFIG);
    const again = parseRunnerConfig(formatRunnerConfig(config));
    expect(again.config).toEqual(config);
    const text = formatRunnerConfig(config);
    expect(text).toContain("[session_server]");
    expect(text).toContain("session_timeout = 1800");
    expect(text).toContain("MaxUploadedArchiveSize = 0");
    expect(text).toContain("token_expires_at = 0001-01-01T00:00:00");
  });

  it("reports wrong types as configuration errors naming the key", () => {
    expect(() => parseRunnerConfig('concurrent = "four"', "/etc/c.toml")).toThrow(
      "/etc/c.toml: concurrent must be a whole number",
    );
    expect(() => parseRunnerConfig('[[runners]]\nname = "r"\nlimit = 1.5')).toThrow(
      'config.toml: [[runners]] #1 ("r"): limit must be a whole number',
    );
    expect(() => parseRunnerConfig("concurrent = ")).toThrow(/^config\.toml: /);
  });

  it("writes atomically with mode 0600 and reads a missing file as empty", () => {
    const dir = tempDir();
    const file = join(dir, "sub", "config.toml");
    expect(readRunnerConfig(file).config).toEqual({ global: {}, runners: [], extra: {} });
    const { config } = parseRunnerConfig(SEED_CONFIG);
    writeRunnerConfig(file, config);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readRunnerConfig(file).config).toEqual(config);
    config.global.concurrent = 8;
    writeRunnerConfig(file, config);
    expect(readFileSync(file, "utf8")).toMatch(/^concurrent = 8$/m);
  });
});

describe("runner system id", () => {
  it("derives s_ + 12 hex from the machine id, r_ + 12 random characters without one", () => {
    const dir = tempDir();
    const machineId = join(dir, "machine-id");
    writeFileSync(machineId, "0123456789abcdef0123456789abcdef\n");
    const id = newSystemId(machineId);
    expect(id).toMatch(/^s_[0-9a-f]{12}$/);
    expect(newSystemId(machineId)).toBe(id);
    expect(newSystemId(join(dir, "absent"))).toMatch(/^r_[0-9a-zA-Z]{12}$/);
  });

  it("keeps it in .runner_system_id next to config.toml", () => {
    const dir = tempDir();
    const config = join(dir, "config.toml");
    const id = loadSystemId(config, join(dir, "absent"));
    expect(systemIdFile(config)).toBe(join(dir, ".runner_system_id"));
    expect(readFileSync(join(dir, ".runner_system_id"), "utf8")).toBe(id);
    expect(loadSystemId(config)).toBe(id);
  });
});
