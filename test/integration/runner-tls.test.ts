import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ShellExecutor } from "../../src/executors/shell/shell-executor.ts";
import { parseRunnerConfig, type RunnerEntry } from "../../src/runner/config-toml.ts";
import { GitLabClient, GitLabUnreachableError } from "../../src/runner/gitlab-client.ts";
import { tlsFilesOf } from "../../src/runner/gitlab-tls.ts";
import { runRunnerJob } from "../../src/runner/run-job.ts";
import { requestJob } from "../../src/runner/runner-api.ts";
import { runnerInfo } from "../../src/runner/runner-info.ts";
import { EXECUTORS } from "../../src/runner/executor-registry.ts";
import type { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import { startRunnerFixture, type RunnerFixture } from "../support/runner-fixture.ts";

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl. */
function makeCertificates(dir: string): void {
  const openssl = (args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    ["req", "-x509", ...ecKey, "-keyout", "ca-key.pem", "-out", "ca.pem"].concat([
      "-days",
      "1",
      "-subj",
      "/CN=pier-test-gitlab-ca",
    ]),
  );
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
  );
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage = clientAuth\n");
  for (const [name, subject] of [
    ["server", "/CN=127.0.0.1"],
    ["client", "/CN=pier-runner-client"],
  ] as const) {
    openssl([
      "req",
      ...ecKey,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ]);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca-key.pem"].concat([
        "-CAcreateserial",
        "-out",
        `${name}.pem`,
        "-days",
        "1",
        "-extfile",
        `${name}.ext`,
      ]),
    );
  }
}

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
  makeCertificates(certs);
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
  proxy.closeAllConnections();
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await fixture.close();
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
