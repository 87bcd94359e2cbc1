import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  formatRunnerConfig,
  parseRunnerConfig,
  readRunnerConfig,
  writeRunnerConfig,
  type RunnerEntry,
} from "../../../src/runner/config-toml.ts";
import {
  gitTlsSettings,
  loadGitLabTls,
  useGitLabTlsForGit,
} from "../../../src/runner/gitlab-tls.ts";
import {
  cloneUrlFor,
  jobSpecForRunner,
  tlsVariablesFor,
} from "../../../src/runner/runner-job-spec.ts";
import { loadSystemId, newSystemId, systemIdFile } from "../../../src/runner/system-id.ts";
import { jobPayload } from "../../support/fake-gitlab/job-payload.ts";

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
  tls-cert-file = "/client.pem"
  tls-key-file = "/client-key.pem"
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
      tlsCertFile: "/client.pem",
      tlsKeyFile: "/client-key.pem",
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

describe("what config.toml adds to a runner job", () => {
  const entry = (extra: string): ReturnType<typeof parseRunnerConfig>["config"]["runners"][0] => {
    const { config } = parseRunnerConfig(`[[runners]]
  name = "r"
  url = "https://gitlab.test/"
  token = "glrt-x"
  executor = "shell"
${extra}`);
    const first = config.runners[0];
    if (first === undefined) throw new Error("no runner");
    return first;
  };
  const job = () =>
    jobPayload({
      id: 7,
      baseUrl: "https://gitlab.test/",
      projectPath: "group/project",
      sha: "a".repeat(40),
      ref: "main",
      script: ["echo one", "echo two"],
      variables: [{ key: "A", value: "from the job", public: true }],
    });

  it("puts environment and feature flags before the job's variables, so the job's win", () => {
    const spec = jobSpecForRunner(
      job(),
      entry(`  environment = ["A=from config", "B=x=y"]
  [runners.feature_flags]
    FF_NETWORK_PER_BUILD = true`),
    );
    const keys = spec.variables.map((variable) => `${variable.key}=${variable.value}`);
    expect(keys.slice(0, 3)).toEqual(["A=from config", "B=x=y", "FF_NETWORK_PER_BUILD=true"]);
    expect(keys.indexOf("A=from the job")).toBeGreaterThan(2);
  });

  it("wraps the script step (before_script included) in pre_build_script and post_build_script", () => {
    const spec = jobSpecForRunner(
      job(),
      entry(`  pre_build_script = "echo pre"
  post_build_script = """
echo post
echo done
"""`),
    );
    expect(spec.steps[0]?.script).toEqual([
      "echo pre",
      "echo one",
      "echo two",
      "echo post\necho done\n",
    ]);
  });

  it("clones from clone_url with the job token; ssh gets git@; no scheme is ignored", () => {
    expect(cloneUrlFor("https://git.internal/", "g/p", "tok")).toBe(
      "https://gitlab-ci-token:tok@git.internal/g/p.git",
    );
    expect(cloneUrlFor("ssh://git.internal:2222", "g/p", "tok")).toBe(
      "ssh://git@git.internal:2222/g/p.git",
    );
    expect(cloneUrlFor("git.internal", "g/p", "tok")).toBeUndefined();
    const spec = jobSpecForRunner(job(), entry('  clone_url = "http://10.0.0.5:8080"'));
    expect(spec.git_info.repo_url).toBe(
      `http://gitlab-ci-token:${spec.token}@10.0.0.5:8080/group/project.git`,
    );
    expect(jobSpecForRunner(job(), entry('  clone_url = "nope"')).git_info.repo_url).toContain(
      "@gitlab.test/group/project.git",
    );
  });

  it("gives the job the GitLab CA and client certificate as gitlab-runner's file variables", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "ca.pem"), "CA PEM\n");
    writeFileSync(join(dir, "cert.pem"), "CERT PEM\n");
    writeFileSync(join(dir, "key.pem"), "KEY PEM\n");
    const variables = tlsVariablesFor(
      entry(`  tls-ca-file = "${join(dir, "ca.pem")}"
  tls-cert-file = "${join(dir, "cert.pem")}"
  tls-key-file = "${join(dir, "key.pem")}"`),
    );
    expect(variables.map((v) => [v.key, v.value, v.file])).toEqual([
      ["GIT_SSL_CAINFO", "CA PEM\n", true],
      ["CI_SERVER_TLS_CA_FILE", "CA PEM\n", true],
      ["GIT_SSL_CERT", "CERT PEM\n", true],
      ["CI_SERVER_TLS_CERT_FILE", "CERT PEM\n", true],
      ["GIT_SSL_KEY", "KEY PEM\n", true],
      ["CI_SERVER_TLS_KEY_FILE", "KEY PEM\n", true],
    ]);
  });

  it("loads TLS files for the GitLab client into one TLS context, cert and key together", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "ca.pem"), "CA PEM\n");
    const material = loadGitLabTls({ caFile: join(dir, "ca.pem") });
    expect(material.secureContext).toBeDefined();
    expect(() => loadGitLabTls({ certFile: join(dir, "ca.pem") })).toThrow(
      /tls-cert-file and tls-key-file go together/,
    );
    expect(() => loadGitLabTls({ caFile: join(dir, "missing.pem") })).toThrow(
      /tls-ca-file = ".*missing.pem"/,
    );
    expect(loadGitLabTls({})).toEqual({});
  });
});

describe("GitLab's TLS files for pier's own git", () => {
  const tlsEntry = (
    omit: ("cloneUrl" | "tlsCaFile" | "tlsCertFile")[] = [],
    url = "https://gitlab.test/",
  ): RunnerEntry => {
    const entry: RunnerEntry = {
      name: "r",
      url,
      cloneUrl: "https://git.test:8443",
      token: "glrt-a",
      executor: "shell",
      tlsCaFile: "/ca.pem",
      tlsCertFile: "/cert.pem",
      tlsKeyFile: "/key.pem",
      extra: {},
    };
    for (const key of omit) delete entry[key];
    return entry;
  };

  it("scopes them to GitLab's https origins (url and clone_url)", () => {
    expect(gitTlsSettings([tlsEntry()])).toEqual([
      ["http.https://gitlab.test/.sslCAInfo", "/ca.pem"],
      ["http.https://gitlab.test/.sslCert", "/cert.pem"],
      ["http.https://gitlab.test/.sslKey", "/key.pem"],
      ["http.https://git.test:8443/.sslCAInfo", "/ca.pem"],
      ["http.https://git.test:8443/.sslCert", "/cert.pem"],
      ["http.https://git.test:8443/.sslKey", "/key.pem"],
    ]);
    expect(gitTlsSettings([tlsEntry(["cloneUrl"], "http://plain.test")])).toEqual([]);
    expect(gitTlsSettings([tlsEntry(["tlsCertFile", "cloneUrl"])])).toEqual([
      ["http.https://gitlab.test/.sslCAInfo", "/ca.pem"],
    ]);
  });

  it("appends to the inherited git config, and turns GIT_SSL_CAINFO into the general setting it overrides", () => {
    const env: NodeJS.ProcessEnv = {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "user.name",
      GIT_CONFIG_VALUE_0: "pier",
      GIT_SSL_CAINFO: "/system.pem",
    };
    useGitLabTlsForGit(tlsEntry(["cloneUrl", "tlsCertFile"]), env);
    expect(env).toEqual({
      GIT_CONFIG_COUNT: "3",
      GIT_CONFIG_KEY_0: "user.name",
      GIT_CONFIG_VALUE_0: "pier",
      GIT_CONFIG_KEY_1: "http.sslCAInfo",
      GIT_CONFIG_VALUE_1: "/system.pem",
      GIT_CONFIG_KEY_2: "http.https://gitlab.test/.sslCAInfo",
      GIT_CONFIG_VALUE_2: "/ca.pem",
    });
    // The same runner reloaded without a CA: its settings go, what pier inherited comes back.
    useGitLabTlsForGit(tlsEntry(["tlsCaFile", "tlsCertFile"]), env);
    expect(env).toEqual({
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "user.name",
      GIT_CONFIG_VALUE_0: "pier",
      GIT_SSL_CAINFO: "/system.pem",
    });
  });
});
