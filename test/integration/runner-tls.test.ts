import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { recoverLostJobs } from "../../src/runner/journal-recovery.ts";
import { JobJournal, type JournalEntry } from "../../src/runner/journal.ts";
import { shortToken } from "../../src/runner/short-token.ts";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import {
  parseRunnerConfig,
  readRunnerConfig,
  type RunnerEntry,
} from "../../src/runner/config-toml.ts";
import { GitLabClient, GitLabUnreachableError } from "../../src/runner/gitlab-client.ts";
import { tlsFilesOf } from "../../src/runner/gitlab-tls.ts";
import { runRunnerJob } from "../../src/runner/run-job.ts";
import { requestJob } from "../../src/runner/runner-api.ts";
import { runnerInfo } from "../../src/runner/runner-info.ts";
import { EXECUTORS } from "../../src/runner/executor-registry.ts";
import type { FakeGitLab, FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import { ensureBuilt, runPier } from "../support/pier-cli.ts";
import { makeTestCertificates } from "../support/test-certificates.ts";
import {
  quietRunnerLog,
  startRunnerFixture,
  type RunnerFixture,
} from "../support/runner-fixture.ts";

let certs: string;
let fixture: RunnerFixture;
let fake: FakeGitLab;
let proxy: Server;
let httpsUrl: string;
let token: string;
let stateDir: string;
/** Common names of the client certificates the HTTPS front saw, one per request. */
let clientNames: string[];
/** The paths it forwarded. */
let frontPaths: string[];

beforeAll(() => {
  certs = mkdtempSync(join(tmpdir(), "pier-gitlab-tls-"));
  // The client certificate's common name: pier-runner-client.
  makeTestCertificates(certs, "pier-runner");
});

afterAll(() => {
  rmSync(certs, { recursive: true, force: true });
});

beforeEach(async () => {
  fixture = await startRunnerFixture({ "hello.txt": "hello over https\n" });
  ({ fake, token, stateDir } = fixture);
  clientNames = [];
  frontPaths = [];
  const target = new URL(fake.url);
  // GitLab behind TLS that asks for a client certificate: an HTTPS front for the stand-in.
  proxy = createServer(
    {
      key: readFileSync(join(certs, "server-key.pem")),
      cert: readFileSync(join(certs, "server.pem")),
      ca: readFileSync(join(certs, "ca.pem")),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (request, response) => {
      const socket = request.socket as TLSSocket;
      if (!socket.authorized) {
        response.writeHead(401).end("client certificate required");
        return;
      }
      clientNames.push(String(socket.getPeerCertificate().subject.CN));
      frontPaths.push(request.url ?? "");
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forward.on("error", () => response.destroy());
      request.pipe(forward);
    },
  );
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  httpsUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
});

afterEach(async () => {
  // The services first: a final update still on its way goes through the front.
  await fixture.close();
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
});

function entry(tls: Partial<RunnerEntry>): RunnerEntry {
  return { name: "tls", url: httpsUrl, token, executor: "shell", extra: {}, ...tls };
}

const withClientCertificate = (): Partial<RunnerEntry> => ({
  tlsCaFile: join(certs, "ca.pem"),
  tlsCertFile: join(certs, "client.pem"),
  tlsKeyFile: join(certs, "client-key.pem"),
});

async function askForJob(client: GitLabClient): ReturnType<typeof requestJob> {
  return requestJob(client, {
    token,
    systemId: "s_0123456789ab",
    info: runnerInfo("shell", EXECUTORS["shell"]?.features ?? {}),
  });
}

describe("the GitLab client over HTTPS with tls-ca-file, tls-cert-file and tls-key-file", () => {
  it("runs a job against a GitLab with a private CA that asks for the runner's certificate", async () => {
    const job = fake.queueJob({ script: ["echo over-tls"] });
    const runnerEntry = entry(withClientCertificate());
    const client = new GitLabClient({ url: httpsUrl, tls: tlsFilesOf(runnerEntry) });
    const answer = await askForJob(client);
    expect(answer.kind).toBe("job");
    if (answer.kind !== "job") return;
    const outcome = await runRunnerJob({
      client,
      entry: runnerEntry,
      systemId: "s_0123456789ab",
      job: answer.job,
      executor: new ShellExecutor({ runnerName: "tls" }),
      stateDir,
      logFile: join(stateDir, "job.log"),
      shutdown: new AbortController().signal,
      traceUpdateIntervalMs: 200,
    });
    client.close();
    expect(outcome.reported).toBe("success");
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.trace.toString()).toContain("over-tls");
    // Every call (request, trace, final update) went through TLS with the client certificate.
    expect(clientNames.length).toBeGreaterThanOrEqual(3);
    expect(new Set(clientNames)).toEqual(new Set(["pier-runner-client"]));
  });

  it("runs pier runner's service against it, fetching the sources over HTTPS with the same files", async () => {
    const job = fake.queueJob({ script: ["cat hello.txt"] });
    const { config } = parseRunnerConfig(`concurrent = 1
[[runners]]
  name = "tls"
  url = "${httpsUrl}"
  clone_url = "${httpsUrl}"
  token = "${token}"
  executor = "shell"
  tls-ca-file = "${join(certs, "ca.pem")}"
  tls-cert-file = "${join(certs, "client.pem")}"
  tls-key-file = "${join(certs, "client-key.pem")}"
`);
    fixture.startService(config);
    await fake.waitFor(() => job.final !== undefined, 60_000);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.trace.toString()).toContain("hello over https");
    // git's own requests for the sources came through the HTTPS front too.
    expect(frontPaths.some((path) => path.startsWith("/group/project.git/"))).toBe(true);
    expect(new Set(clientNames)).toEqual(new Set(["pier-runner-client"]));
  });

  it("refuses a GitLab whose certificate it cannot verify without tls-ca-file", async () => {
    const client = new GitLabClient({ url: httpsUrl, maxAttempts: 1 });
    const asking = client.request("POST", "jobs/request", { json: { token } });
    await expect(asking).rejects.toThrow(GitLabUnreachableError);
    await expect(asking).rejects.toThrow(/certificate/i);
    expect(await askForJob(client)).toEqual({ kind: "retry", status: 0 });
    client.close();
    expect(clientNames).toEqual([]);
  });

  it("is turned away without the client certificate GitLab asks for", async () => {
    const client = new GitLabClient({
      url: httpsUrl,
      tls: { caFile: join(certs, "ca.pem") },
      maxAttempts: 1,
    });
    const answer = await askForJob(client);
    client.close();
    expect(answer).toMatchObject({ kind: "forbidden" });
    expect(clientNames).toEqual([]);
  });
});

/** Hands the queued job out over HTTPS, as a pier that later died would have taken it. */
async function takenByADeadPier(job: FakeJob, tls: JournalEntry["tls"]): Promise<JournalEntry> {
  const client = new GitLabClient({ url: httpsUrl, tls: withClientCertificateFiles() });
  expect((await askForJob(client)).kind).toBe("job");
  client.close();
  const logFile = join(stateDir, "runner", "lost", `${String(job.id)}.log`);
  mkdirSync(join(logFile, ".."), { recursive: true });
  writeFileSync(logFile, "started, then the runner died\n");
  const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  const entry: JournalEntry = {
    jobId: job.id,
    jobToken: job.token,
    url: httpsUrl,
    ...(tls !== undefined && { tls }),
    runner: shortToken(token),
    systemId: "s_0123456789ab",
    owner: { pid: Number(dead.stdout.toString()), start: "1" },
    logFile,
    outputLimitBytes: 4 * 1024 * 1024,
    startedAt: new Date().toISOString(),
  };
  new JobJournal(stateDir).record(entry);
  return entry;
}

const withClientCertificateFiles = (): NonNullable<JournalEntry["tls"]> => ({
  caFile: join(certs, "ca.pem"),
  certFile: join(certs, "client.pem"),
  keyFile: join(certs, "client-key.pem"),
});

describe("TLS files beyond the job loop", () => {
  it("recovers a lost job from a private-CA GitLab with the TLS files the journal kept", async () => {
    const job = fake.queueJob({ script: ["true"] });
    await takenByADeadPier(job, withClientCertificateFiles());
    clientNames = [];
    const recovered = await recoverLostJobs({
      stateDir,
      log: quietRunnerLog,
      client: { baseDelayMs: 10, maxDelayMs: 50 },
    });
    expect(recovered).toMatchObject([{ jobId: job.id, reported: "failed" }]);
    expect(job.final).toMatchObject({ state: "failed", failure_reason: "runner_system_failure" });
    expect(job.trace.toString()).toContain("started, then the runner died");
    expect(fake.violations).toEqual([]);
    expect(clientNames.length).toBeGreaterThanOrEqual(2);
    expect(new Set(clientNames)).toEqual(new Set(["pier-runner-client"]));
  });

  it("recovers with the runner's TLS files from config.toml now, over those of the journal", async () => {
    const job = fake.queueJob({ script: ["true"] });
    // An entry journaled before pier kept TLS files, or with files since replaced.
    await takenByADeadPier(job, { caFile: join(certs, "missing-ca.pem") });
    const withoutConfig = await recoverLostJobs({
      stateDir,
      log: quietRunnerLog,
      client: { maxAttempts: 1 },
    });
    expect(withoutConfig).toMatchObject([{ jobId: job.id, reported: "unreported" }]);
    expect(job.final).toBeUndefined();

    const recovered = await recoverLostJobs({
      stateDir,
      log: quietRunnerLog,
      client: { baseDelayMs: 10, maxDelayMs: 50 },
      runners: [entry(withClientCertificate())],
    });
    expect(recovered).toMatchObject([{ jobId: job.id, reported: "failed" }]);
    expect(job.final).toMatchObject({ state: "failed" });
    expect(new JobJournal(stateDir).list()).toEqual([]);
  });

  it("applies changed TLS files on config reload though the URL stays the same", async () => {
    const job = fake.queueJob({ script: ["echo reconnected"] });
    const caOnly = entry({ tlsCaFile: join(certs, "ca.pem") });
    const service = fixture.startService({
      global: { concurrent: 1 },
      runners: [caOnly],
      extra: {},
    });
    // Without its certificate the runner is turned away at the HTTPS front.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(job.state).toBe("pending");
    await service.applyConfig({
      global: { concurrent: 1 },
      runners: [entry(withClientCertificate())],
      extra: {},
    });
    await fake.waitFor(() => job.final !== undefined, 60_000);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.trace.toString()).toContain("reconnected");
    expect(new Set(clientNames)).toEqual(new Set(["pier-runner-client"]));
  });
});

describe("pier runner register with --tls-ca-file, --tls-cert-file, --tls-key-file", () => {
  let home: string;
  beforeEach(() => {
    ensureBuilt();
    home = mkdtempSync(join(tmpdir(), "pier-register-tls-"));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  const tlsFlags = (): string[] => [
    "--tls-ca-file",
    join(certs, "ca.pem"),
    "--tls-cert-file",
    join(certs, "client.pem"),
    "--tls-key-file",
    join(certs, "client-key.pem"),
  ];

  it.each([
    ["an authentication token (verify)", () => token, "/api/v4/runners/verify"],
    ["a registration token (legacy)", () => fake.registrationToken, "/api/v4/runners"],
  ])("registers with %s against a private-CA GitLab and keeps the files", async (_, t, path) => {
    const configFile = join(home, "config.toml");
    const registered = await runPier(
      ["runner", "register", "-n", "-c", configFile, "--url", httpsUrl, "--token", t()].concat(
        tlsFlags(),
      ),
      { HOME: home, XDG_STATE_HOME: join(home, "state") },
    );
    expect(registered.stderr).toBe("");
    expect(registered.code).toBe(0);
    expect(frontPaths).toContain(path);
    expect(new Set(clientNames)).toEqual(new Set(["pier-runner-client"]));
    const [registeredEntry] = readRunnerConfig(configFile).config.runners;
    expect(registeredEntry).toMatchObject({
      url: httpsUrl,
      ...withClientCertificate(),
    });
    // What was written is what the other commands use.
    const verified = await runPier(["runner", "verify", "-c", configFile], { HOME: home });
    expect(verified.code).toBe(0);
  });

  it("fails before asking GitLab when a TLS file cannot be read", async () => {
    const missing = await runPier(
      ["runner", "register", "-n", "-c", join(home, "config.toml"), "--url", httpsUrl].concat([
        "--token",
        token,
        "--tls-ca-file",
        join(certs, "nope.pem"),
      ]),
      { HOME: home },
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("tls-ca-file");
    expect(fake.requests).toEqual([]);
  });

  it("cannot reach the private-CA GitLab without --tls-ca-file", async () => {
    const refused = await runPier(
      ["runner", "register", "-n", "-c", join(home, "config.toml"), "--url", httpsUrl].concat([
        "--token",
        token,
      ]),
      { HOME: home },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/certificate/i);
    expect(frontPaths).toEqual([]);
  });
});
