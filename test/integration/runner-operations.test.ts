import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { readRunnerConfig } from "../../src/runner/config-toml.ts";
import { shortToken } from "../../src/runner/short-token.ts";
import { serveTokenReset } from "../support/fake-gitlab/token-reset-route.ts";
import type { PierRun } from "../support/pier-cli.ts";
import { useRunnerHome, type ServiceProcess } from "./runner-operations-setup.ts";

const world = useRunnerHome("group/ops");

function runnerToml(token: string, extra = ""): string {
  return `[[runners]]
  name = "runner ${shortToken(token)}"
  url = "${world.fake.url}"
  token = "${token}"
  executor = "shell"
${extra}`;
}

function writeConfig(text: string): void {
  mkdirSync(dirname(world.configFile), { recursive: true });
  writeFileSync(world.configFile, text, { mode: 0o600 });
}

async function stop(service: ServiceProcess): Promise<PierRun> {
  service.child.kill("SIGQUIT");
  const result = await service.exit;
  expect(result.code).toBe(0);
  return result;
}

async function scrape(address: string, path = "/metrics"): Promise<string> {
  const response = await fetch(`http://${address}${path}`);
  expect(response.status).toBe(200);
  return response.text();
}

/** The value of one series, its labels given as `key="value"` fragments that must all appear. */
function sample(text: string, name: string, ...labels: string[]): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels.every((label) => line.includes(label))) return Number(line.split(" ").at(-1));
  }
  return undefined;
}

/** Requests for jobs made with this runner token. */
function jobRequestsWith(token: string): number {
  return world.fake.requests.filter(
    (request) =>
      request.path === "/api/v4/jobs/request" && request.body.toString().includes(`"${token}"`),
  ).length;
}

describe("pier runner run: operations", () => {
  it("serves Prometheus metrics and the running jobs on listen_address, logs JSON lines", async () => {
    const token = world.fake.createRunner();
    writeConfig(
      `concurrent = 2\nlisten_address = "127.0.0.1:0"\n${runnerToml(token, "  limit = 2")}`,
    );
    // Long enough to be seen running: the first trace update comes after 3 s.
    const job = world.fake.queueJob({ script: ["echo started", "sleep 8"] });
    const service = world.startService();
    const listening = await service.waitForEvent(
      (event) => event.msg === "metrics server listening",
    );
    const address = String(listening["address"]);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    await world.fake.waitFor(() => job.trace.toString().includes("\nstarted"));

    const runner = `runner="${shortToken(token)}"`;
    const during = await scrape(address);
    expect(during).toContain("# TYPE gitlab_runner_jobs gauge");
    expect(sample(during, "gitlab_runner_jobs", runner, 'state="running"')).toBe(1);
    expect(sample(during, "gitlab_runner_concurrent")).toBe(2);
    expect(sample(during, "gitlab_runner_limit", runner)).toBe(2);
    expect(sample(during, "gitlab_runner_version_info", 'name="pier"')).toBe(1);
    expect(await scrape(address, "/debug/jobs/list")).toMatch(
      new RegExp(`state=running runner=${shortToken(token)} duration=`),
    );

    await world.fake.waitFor(() => job.final !== undefined);
    const failing = world.fake.queueJob({ script: ["exit 3"] });
    await world.fake.waitFor(() => failing.final !== undefined);
    await service.waitForEvent((event) => event.msg === "job finished" && event.job === failing.id);
    const after = await scrape(address);
    expect(sample(after, "gitlab_runner_jobs", runner, 'state="running"')).toBe(0);
    expect(sample(after, "gitlab_runner_jobs_total", runner)).toBe(2);
    expect(
      sample(after, "gitlab_runner_failed_jobs_total", runner, 'failure_reason="script_failure"'),
    ).toBe(1);
    expect(sample(after, "gitlab_runner_job_duration_seconds_count", runner)).toBe(2);
    expect(sample(after, "gitlab_runner_job_duration_seconds_bucket", runner, 'le="+Inf"')).toBe(2);
    expect(sample(after, "gitlab_runner_job_duration_seconds_bucket", runner, 'le="30"')).toBe(2);
    expect(
      sample(
        after,
        "gitlab_runner_api_request_statuses_total",
        runner,
        'endpoint="request_job"',
        'status="201"',
      ),
    ).toBe(2);
    expect(
      sample(
        after,
        "gitlab_runner_api_request_statuses_total",
        runner,
        'endpoint="update_job"',
        'status="200"',
      ),
    ).toBe(2);
    expect(
      sample(
        after,
        "gitlab_runner_api_request_statuses_total",
        runner,
        'endpoint="patch_trace"',
        'status="202"',
      ),
    ).toBeGreaterThanOrEqual(2);

    await stop(service);
    // One JSON object per line with logrus's fields and the event's own.
    const received = service.events.find((event) => event.msg === "job received");
    expect(received).toMatchObject({ level: "info", runner: shortToken(token), job: job.id });
    expect(Number.isNaN(Date.parse(String(received?.["time"])))).toBe(false);
    expect(world.fake.violations).toEqual([]);
  }, 120_000);

  it("honours log_level", async () => {
    const token = world.fake.createRunner();
    writeConfig(`concurrent = 1\nlog_level = "warning"\n${runnerToml(token)}`);
    const service = world.startService();
    await world.fake.waitFor(() => jobRequestsWith(token) > 0);
    const result = await stop(service);
    expect(result.stderr).toBe("");
  }, 60_000);

  it("reloads config.toml: new runners ask, removed ones stop, concurrent applies, a broken file is kept out", async () => {
    const first = world.fake.createRunner();
    const second = world.fake.createRunner();
    writeConfig(`concurrent = 1\ncheck_interval = 1\n${runnerToml(first)}`);
    const jobA = world.fake.queueJob({ script: ["echo a", "sleep 12"] });
    const jobB = world.fake.queueJob({ script: ["echo b", "sleep 1"] });
    const service = world.startService();
    await world.fake.waitFor(() => jobA.trace.toString().includes("\na\n"));
    // concurrent = 1: the second job waits.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(jobB.assignedAt).toBeUndefined();

    // A broken file: logged, the running configuration kept.
    writeFileSync(world.configFile, "concurrent = [oops\n");
    await service.waitForEvent(
      (event) => event.msg === "config.toml not reloaded; keeping the running configuration",
    );

    // concurrent = 2 and the second runner instead of the first.
    writeFileSync(world.configFile, `concurrent = 2\ncheck_interval = 1\n${runnerToml(second)}`);
    await service.waitForEvent((event) => event.msg === "configuration loaded");
    await world.fake.waitFor(() => jobB.assignedAt !== undefined);
    expect(jobRequestsWith(second)).toBeGreaterThan(0);
    const byFirst = jobRequestsWith(first);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(jobRequestsWith(first)).toBe(byFirst);
    // The removed runner's job still runs, and is reported when it ends.
    expect(jobA.final).toBeUndefined();
    await world.fake.waitFor(() => jobA.final !== undefined && jobB.final !== undefined);
    expect([jobA.final?.state, jobB.final?.state]).toEqual(["success", "success"]);
    await stop(service);
    expect(world.fake.violations).toEqual([]);
  }, 120_000);

  it("rotates a runner token before it expires, writes it to config.toml (0600) and goes on with it", async () => {
    const { resets } = serveTokenReset(world.fake, { lifetimeMs: 30 * 24 * 3_600_000 });
    const token = world.fake.createRunner();
    const obtained = new Date(Date.now() - 3_600_000).toISOString();
    const expires = new Date(Date.now() + 10 * 60_000).toISOString();
    writeConfig(
      `concurrent = 1\ncheck_interval = 1\n${runnerToml(token, `  token_obtained_at = ${obtained}\n  token_expires_at = ${expires}`)}`,
    );
    const service = world.startService();
    await service.waitForEvent((event) => event.msg === "runner token rotated");
    expect(resets).toHaveLength(1);
    expect(resets[0]?.from).toBe(token);
    const rotated = resets[0]!.to;
    await world.fake.waitFor(() => readFileSync(world.configFile, "utf8").includes(rotated));
    expect(statSync(world.configFile).mode & 0o777).toBe(0o600);
    const entry = readRunnerConfig(world.configFile).config.runners[0]!;
    expect(entry.token).toBe(rotated);
    expect(entry.tokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3_600_000);

    const job = world.fake.queueJob({ script: ["echo with the new token"] });
    await world.fake.waitFor(() => job.final !== undefined);
    expect(job.final?.state).toBe("success");
    expect(jobRequestsWith(rotated)).toBeGreaterThan(0);
    await stop(service);
    // Rewriting config.toml with the new token is not taken for a new runner.
    expect(
      service.events.some(
        (event) =>
          event.msg === "runner removed from config.toml: asking no more; its running jobs finish",
      ),
    ).toBe(false);
    expect(world.fake.violations).toEqual([]);
  }, 60_000);
});
