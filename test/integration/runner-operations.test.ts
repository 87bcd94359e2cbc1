import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readRunnerConfig } from "../../src/runner/config-toml.ts";
import { shortToken } from "../../src/runner/short-token.ts";
import { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import { serveTokenReset } from "../support/fake-gitlab/token-reset-route.ts";
import {
  ensureBuilt,
  finished,
  makeRepository,
  startPier,
  type PierRun,
} from "../support/pier-cli.ts";

type LogEvent = Record<string, unknown>;

let fake: FakeGitLab;
let home: string;
let repo: string;
let env: Record<string, string>;
let configFile: string;
const children: ReturnType<typeof startPier>[] = [];

beforeAll(() => ensureBuilt());

beforeEach(async () => {
  fake = await FakeGitLab.start();
  fake.traceUpdateInterval = 0.2;
  repo = makeRepository({ "a.txt": "a\n" });
  fake.addProject("group/ops", repo);
  home = mkdtempSync(join(tmpdir(), "pier-runner-ops-"));
  env = {
    HOME: home,
    XDG_CONFIG_HOME: join(home, "config"),
    XDG_STATE_HOME: join(home, "state"),
  };
  configFile = join(home, "config", "pier", "config.toml");
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  await fake.close();
  rmSync(home, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
});

function runnerToml(token: string, extra = ""): string {
  return `[[runners]]
  name = "runner ${shortToken(token)}"
  url = "${fake.url}"
  token = "${token}"
  executor = "shell"
${extra}`;
}

function writeConfig(text: string): void {
  mkdirSync(dirname(configFile), { recursive: true });
  writeFileSync(configFile, text, { mode: 0o600 });
}

interface Service {
  events: LogEvent[];
  exit: Promise<PierRun>;
  child: ReturnType<typeof startPier>;
  /** Resolves with the first log event the predicate accepts (already logged ones included). */
  waitForEvent(predicate: (event: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
}

/** `pier runner run --log-format json`, its log parsed as it comes. */
function startService(args: string[] = []): Service {
  const child = startPier(["runner", "run", "--log-format", "json", ...args], env);
  children.push(child);
  const events: LogEvent[] = [];
  const waiters = new Set<() => void>();
  let pending = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) events.push(JSON.parse(line) as LogEvent);
    for (const wake of waiters) wake();
  });
  const exit = finished(child);
  const waitForEvent = async (
    predicate: (event: LogEvent) => boolean,
    timeoutMs = 60_000,
  ): Promise<LogEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `no such log event; got:\n${events.map((e) => JSON.stringify(e)).join("\n")}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        waiters.add(wake);
      });
    }
  };
  return { events, exit, child, waitForEvent };
}

async function stop(service: Service): Promise<PierRun> {
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
  return fake.requests.filter(
    (request) =>
      request.path === "/api/v4/jobs/request" && request.body.toString().includes(`"${token}"`),
  ).length;
}

describe("pier runner run: operations", () => {
  it("serves Prometheus metrics and the running jobs on listen_address, logs JSON lines", async () => {
    const token = fake.createRunner();
    writeConfig(
      `concurrent = 2\nlisten_address = "127.0.0.1:0"\n${runnerToml(token, "  limit = 2")}`,
    );
    // Long enough to be seen running: the first trace update comes after 3 s.
    const job = fake.queueJob({ script: ["echo started", "sleep 8"] });
    const service = startService();
    const listening = await service.waitForEvent(
      (event) => event.msg === "metrics server listening",
    );
    const address = String(listening["address"]);
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    await fake.waitFor(() => job.trace.toString().includes("\nstarted"));

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

    await fake.waitFor(() => job.final !== undefined);
    const failing = fake.queueJob({ script: ["exit 3"] });
    await fake.waitFor(() => failing.final !== undefined);
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
    expect(fake.violations).toEqual([]);
  }, 120_000);

  it("honours log_level", async () => {
    const token = fake.createRunner();
    writeConfig(`concurrent = 1\nlog_level = "warning"\n${runnerToml(token)}`);
    const service = startService();
    await fake.waitFor(() => jobRequestsWith(token) > 0);
    const result = await stop(service);
    expect(result.stderr).toBe("");
  }, 60_000);

  it("reloads config.toml: new runners ask, removed ones stop, concurrent applies, a broken file is kept out", async () => {
    const first = fake.createRunner();
    const second = fake.createRunner();
    writeConfig(`concurrent = 1\ncheck_interval = 1\n${runnerToml(first)}`);
    const jobA = fake.queueJob({ script: ["echo a", "sleep 12"] });
    const jobB = fake.queueJob({ script: ["echo b", "sleep 1"] });
    const service = startService();
    await fake.waitFor(() => jobA.trace.toString().includes("\na\n"));
    // concurrent = 1: the second job waits.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(jobB.assignedAt).toBeUndefined();

    // A broken file: logged, the running configuration kept.
    writeFileSync(configFile, "concurrent = [oops\n");
    await service.waitForEvent(
      (event) => event.msg === "config.toml not reloaded; keeping the running configuration",
    );

    // concurrent = 2 and the second runner instead of the first.
    writeFileSync(configFile, `concurrent = 2\ncheck_interval = 1\n${runnerToml(second)}`);
    await service.waitForEvent((event) => event.msg === "configuration loaded");
    await fake.waitFor(() => jobB.assignedAt !== undefined);
    expect(jobRequestsWith(second)).toBeGreaterThan(0);
    const byFirst = jobRequestsWith(first);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect(jobRequestsWith(first)).toBe(byFirst);
    // The removed runner's job still runs, and is reported when it ends.
    expect(jobA.final).toBeUndefined();
    await fake.waitFor(() => jobA.final !== undefined && jobB.final !== undefined);
    expect([jobA.final?.state, jobB.final?.state]).toEqual(["success", "success"]);
    await stop(service);
    expect(fake.violations).toEqual([]);
  }, 120_000);

  it("rotates a runner token before it expires, writes it to config.toml (0600) and goes on with it", async () => {
    const { resets } = serveTokenReset(fake, { lifetimeMs: 30 * 24 * 3_600_000 });
    const token = fake.createRunner();
    const obtained = new Date(Date.now() - 3_600_000).toISOString();
    const expires = new Date(Date.now() + 10 * 60_000).toISOString();
    writeConfig(
      `concurrent = 1\ncheck_interval = 1\n${runnerToml(token, `  token_obtained_at = ${obtained}\n  token_expires_at = ${expires}`)}`,
    );
    const service = startService();
    await service.waitForEvent((event) => event.msg === "runner token rotated");
    expect(resets).toHaveLength(1);
    expect(resets[0]?.from).toBe(token);
    const rotated = resets[0]!.to;
    await fake.waitFor(() => readFileSync(configFile, "utf8").includes(rotated));
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const entry = readRunnerConfig(configFile).config.runners[0]!;
    expect(entry.token).toBe(rotated);
    expect(entry.tokenExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 24 * 3_600_000);

    const job = fake.queueJob({ script: ["echo with the new token"] });
    await fake.waitFor(() => job.final !== undefined);
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
    expect(fake.violations).toEqual([]);
  }, 60_000);
});
