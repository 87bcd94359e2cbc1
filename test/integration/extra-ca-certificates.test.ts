import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { defaultTrustedCertificates } from "../../src/extra-ca-certificates.ts";
import { sendStreamed, tlsFor } from "../../src/runner/artifacts-http.ts";
import { loadGitLabTls } from "../../src/runner/gitlab-tls.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";

// What bin/pier.js leaves when it started Node without NODE_EXTRA_CA_CERTS.
const launcherKey = Symbol.for("pier.deferredExtraCaCerts");
const launcherState = globalThis as Record<symbol, unknown>;

let scratch: string;
let certs: TestCertificates;
let server: Server;
let url: URL;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "pier-extra-ca-"));
  certs = makeTestCertificates(scratch, "pier-extra-ca-test");
  server = createServer(
    { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    (_request, response) => response.end("ok"),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/object`);
});

afterEach(() => {
  delete launcherState[launcherKey];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

/** A GET to the test server from a non-GitLab origin (object storage), as artifacts do. */
async function getObject(): Promise<number | undefined> {
  const response = await sendStreamed({
    method: "GET",
    url,
    idleTimeoutMs: 5_000,
    ...tlsFor(url, "https://gitlab.example.com/api/v4", undefined),
  });
  response.resume();
  return response.statusCode;
}

describe("CAs of a NODE_EXTRA_CA_CERTS that Node was started without", () => {
  it("leaves Node's own store alone when Node read the variable itself", async () => {
    expect(defaultTrustedCertificates()).toBeUndefined();
    expect(loadGitLabTls({}).ca).toBeUndefined();
    await expect(getObject()).rejects.toThrow(/self-signed|unable to verify|issuer/i);
  });

  it("are trusted, with Node's roots, by the GitLab client and for object storage", async () => {
    launcherState[launcherKey] = certs.ca;
    const trusted = defaultTrustedCertificates();
    expect(trusted).toEqual([...rootCertificates, readFileSync(certs.ca, "latin1")]);
    expect(loadGitLabTls({}).ca).toEqual(trusted);
    expect(await getObject()).toBe(200);
  });

  it("give way to tls-ca-file, as Node's own extra certificates do to an explicit CA", () => {
    launcherState[launcherKey] = certs.ca;
    const other = join(scratch, "server.pem");
    expect(loadGitLabTls({ caFile: other }).ca).toEqual([
      ...rootCertificates,
      readFileSync(other, "utf8"),
    ]);
  });

  it("are skipped with Node's warning when the file cannot be read", async () => {
    const missing = join(scratch, "missing.pem");
    launcherState[launcherKey] = missing;
    const warned = once(process, "warning") as Promise<[Error]>;
    expect(defaultTrustedCertificates()).toEqual([...rootCertificates]);
    const [warning] = await warned;
    expect(warning.message).toContain(`Ignoring extra certs from \`${missing}\``);
  });
});
