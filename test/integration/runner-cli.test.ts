import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readRunnerConfig, writeRunnerConfig } from "../../src/runner/config-toml.ts";
import { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import { ensureBuilt, finished, makeRepository, runPier, startPier } from "../support/pier-cli.ts";

let fake: FakeGitLab;
let home: string;
let env: Record<string, string>;
let configFile: string;

beforeAll(() => ensureBuilt());

beforeEach(async () => {
  fake = await FakeGitLab.start();
  home = mkdtempSync(join(tmpdir(), "pier-runner-cli-"));
  env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
  };
  configFile = join(home, "config", "pier", "config.toml");
});

afterEach(async () => {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
});

describe("pier runner commands", () => {
  it("registers with a glrt- token through /runners/verify, lists, verifies and unregisters", async () => {
    const token = fake.createRunner();
    const registered = await runPier(
      ["runner", "register", "-n", "--url", fake.url, "--token", token, "--name", "vm-1"],
      env,
    );
    expect(registered.stderr).toBe("");
    expect(registered.code).toBe(0);
    expect(registered.stdout).toContain("Runner registered successfully");
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const systemId = readFileSync(join(home, "config", "pier", ".runner_system_id"), "utf8");
    expect(systemId).toMatch(/^[sr]_[0-9a-zA-Z]{12}$/);
    expect([...fake.runners.get(token)!.systemIds]).toEqual([systemId]);
    const { config } = readRunnerConfig(configFile);
    expect(config.global.concurrent).toBe(1);
    expect(config.runners).toMatchObject([
      { name: "vm-1", url: fake.url, token, executor: "shell", id: fake.runners.get(token)!.id },
    ]);
    expect(config.runners[0]!.tokenExpiresAt?.getUTCFullYear()).toBe(1);

    const listed = await runPier(["runner", "list"], env);
    expect(listed.stdout).toContain(
      `vm-1\tExecutor=shell Token=${token.slice(8, 17)} URL=${fake.url}`,
    );
    expect(listed.stdout).not.toContain(token);

    const verified = await runPier(["runner", "verify"], env);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain("is valid: vm-1");

    const unregistered = await runPier(["runner", "unregister", "--name", "vm-1"], env);
    expect(unregistered.code).toBe(0);
    expect(fake.runners.has(token)).toBe(false);
    expect(readRunnerConfig(configFile).config.runners).toEqual([]);

    // GitLab no longer knows it: verify says so.
    const refused = await runPier(
      ["runner", "register", "-n", "--url", fake.url, "--token", token],
      env,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("the token is invalid (403 Forbidden)");
    expect(fake.violations).toEqual([]);
  });

  it("registers with a legacy registration token, sending tags and flags", async () => {
    const result = await runPier(
      [
        "runner",
        "register",
        "--non-interactive",
        "--url",
        fake.url,
        "--registration-token",
        fake.registrationToken,
        "--description",
        "legacy runner",
        "--tag-list",
        "docker, linux",
        "--locked",
        "false",
      ],
      env,
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const request = fake.requests.find((r) => r.path === "/api/v4/runners")!;
    expect(JSON.parse(request.body.toString())).toMatchObject({
      token: fake.registrationToken,
      description: "legacy runner",
      tag_list: "docker,linux",
      run_untagged: false,
      locked: false,
      info: { name: "pier", executor: "shell", features: { variables: true } },
    });
    const { config } = readRunnerConfig(configFile);
    const newToken = config.runners[0]!.token;
    expect(fake.runners.get(newToken)?.tagList).toEqual(["docker", "linux"]);
    expect(config.runners[0]!.name).toBe("legacy runner");
  });

  it("verify --delete drops runners GitLab refuses, keeps those it could not ask", async () => {
    const kept = fake.createRunner();
    const refused = fake.createRunner();
    for (const [name, token] of [
      ["kept", kept],
      ["refused", refused],
    ] as const) {
      const args = ["runner", "register", "-n", "--url", fake.url, "--token", token];
      expect((await runPier([...args, "--name", name], env)).code).toBe(0);
    }
    // A third entry whose GitLab does not answer: a port nothing listens on.
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const { config } = readRunnerConfig(configFile);
    config.runners.push({
      ...config.runners[0]!,
      name: "unreachable",
      url: `http://127.0.0.1:${String(closedPort)}/`,
      token: "glrt-t1_unreachable0000",
    });
    writeRunnerConfig(configFile, config);
    fake.runners.delete(refused);

    const verified = await runPier(["runner", "verify", "--delete"], env);
    expect(verified.stdout).toContain("is not valid: refused");
    expect(verified.stdout).toContain("could not be verified: unreachable");
    expect(verified.code).toBe(1);
    expect(readRunnerConfig(configFile).config.runners.map((entry) => entry.name)).toEqual([
      "kept",
      "unreachable",
    ]);
  }, 60_000);

  it("refuses server-owned settings with a glrt- token", async () => {
    const token = fake.createRunner();
    const result = await runPier(
      ["runner", "register", "-n", "--url", fake.url, "--token", token, "--tag-list", "a"],
      env,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cannot be given with a glrt- token");
    expect(fake.requests).toEqual([]);
  });

  it("runs jobs as a service; SIGQUIT lets the running job finish, SIGTERM and SIGINT fail it as a system failure", async () => {
    const repo = makeRepository({ "a.txt": "a\n" });
    try {
      fake.addProject("group/service", repo);
      const token = fake.createRunner();
      expect(
        (await runPier(["runner", "register", "-n", "--url", fake.url, "--token", token], env))
          .code,
      ).toBe(0);

      // SIGQUIT: the running job ends normally and is reported; then pier exits 0.
      const first = fake.queueJob({ script: ["sleep 2", "echo first done"] });
      let child = startPier(["runner", "run"], env);
      let exit = finished(child);
      await fake.waitFor(() => first.assignedAt !== undefined);
      child.kill("SIGQUIT");
      let result = await exit;
      expect(result.stderr).toContain("SIGQUIT");
      expect(result.code).toBe(0);
      expect(first.final?.state).toBe("success");
      expect(first.trace.toString()).toContain("first done");

      // SIGTERM: the running job is aborted and reported failed (runner_system_failure).
      const second = fake.queueJob({ script: ["echo second started", "sleep 60"] });
      child = startPier(["runner", "run", "--log-format", "json"], env);
      exit = finished(child);
      await fake.waitFor(() => second.trace.toString().includes("second started"));
      child.kill("SIGTERM");
      result = await exit;
      expect(result.code).toBe(0);
      expect(second.final).toMatchObject({
        state: "failed",
        failure_reason: "runner_system_failure",
      });
      expect(second.trace.toString()).toContain("the runner is shutting down");
      const lines = result.stderr.trim().split("\n");
      expect(lines.every((line) => JSON.parse(line) !== undefined)).toBe(true);

      // SIGINT (Ctrl-C) is SIGTERM's twin.
      const third = fake.queueJob({ script: ["echo third started", "sleep 60"] });
      child = startPier(["runner", "run"], env);
      exit = finished(child);
      await fake.waitFor(() => third.trace.toString().includes("third started"));
      child.kill("SIGINT");
      result = await exit;
      expect(result.code).toBe(0);
      expect(result.stderr).toContain("SIGINT");
      expect(third.final).toMatchObject({
        state: "failed",
        failure_reason: "runner_system_failure",
      });
      expect(fake.violations).toEqual([]);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
