import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  deferredTrustContext,
  deferredTrustedCertificates,
} from "../../src/extra-ca-certificates.ts";
import { sendStreamed, tlsFor } from "../../src/runner/artifacts-http.ts";
import { loadGitLabTls, type GitLabTlsMaterial } from "../../src/runner/gitlab-tls.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";

// What bin/pier.js leaves when it started Node without NODE_EXTRA_CA_CERTS.
const launcherKey = Symbol.for("pier.deferredExtraCaCerts");
const launcherState = globalThis as Record<symbol, unknown>;

let scratch: string;
let certs: TestCertificates;
let otherCa: string;
let servers: Server[] = [];

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "pier-extra-ca-"));
  certs = makeTestCertificates(scratch, "pier-extra-ca-test");
  mkdirSync(join(scratch, "other"));
  otherCa = makeTestCertificates(join(scratch, "other"), "pier-extra-ca-other").ca;
});

afterEach(async () => {
  delete launcherState[launcherKey];
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  servers = [];
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A server with the test CA's certificate, on a port of its own: Node's agent keeps sockets and
 * TLS sessions per host and port (not per TLS context), and a resumed session is not checked.
 */
async function startServer(): Promise<URL> {
  const server = createServer(
    { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    (_request, response) => response.writeHead(200, { Connection: "close" }).end("ok"),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/object`);
}

/** A GET to the test server, as GitLab's own origin with `gitlab` material, else as object storage. */
async function get(url: URL, gitlab?: GitLabTlsMaterial): Promise<number | undefined> {
  const apiBase = gitlab === undefined ? "https://gitlab.example.com/api/v4" : url.origin;
  const response = await sendStreamed({
    method: "GET",
    url,
    idleTimeoutMs: 5_000,
    ...tlsFor(url, apiBase, gitlab),
  });
  response.resume();
  return response.statusCode;
}

const untrusted = /self-signed|unable to (verify|get local issuer)|issuer/i;

describe("CAs of a NODE_EXTRA_CA_CERTS that Node was started without", () => {
  it("leave Node's own store alone when Node read the variable itself", async () => {
    expect(deferredTrustedCertificates()).toBeUndefined();
    expect(deferredTrustContext()).toBeUndefined();
    expect(loadGitLabTls({})).toEqual({});
    await expect(get(await startServer())).rejects.toThrow(untrusted);
  });

  it("are trusted, with Node's roots, by the GitLab client and for object storage", async () => {
    launcherState[launcherKey] = certs.ca;
    expect(deferredTrustedCertificates()).toEqual([
      ...rootCertificates,
      readFileSync(certs.ca, "latin1"),
    ]);
    // One context for the process: certificates are parsed once, not per connection.
    expect(deferredTrustContext()).toBe(deferredTrustContext());
    expect(await get(await startServer())).toBe(200);
    expect(await get(await startServer(), loadGitLabTls({}))).toBe(200);
  });

  it("give way to tls-ca-file, as Node's own extra certificates do to an explicit CA", async () => {
    launcherState[launcherKey] = certs.ca;
    await expect(get(await startServer(), loadGitLabTls({ caFile: otherCa }))).rejects.toThrow(
      untrusted,
    );
    expect(await get(await startServer(), loadGitLabTls({ caFile: certs.ca }))).toBe(200);
  });

  it("are skipped with Node's warning when the file cannot be read", async () => {
    const missing = join(scratch, "missing.pem");
    launcherState[launcherKey] = missing;
    const warned = once(process, "warning") as Promise<[Error]>;
    expect(deferredTrustedCertificates()).toEqual([...rootCertificates]);
    const [warning] = await warned;
    expect(warning.message).toContain(`Ignoring extra certs from \`${missing}\``);
  });
});
