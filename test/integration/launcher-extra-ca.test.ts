import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ensureBuilt,
  finished,
  makeRepository,
  repoRoot,
  type PierRun,
} from "../support/pier-cli.ts";
import { makeTestCertificates } from "../support/test-certificates.ts";

// The installed `pier` command runs bin/pier.js as a shell script that starts Node without
// NODE_EXTRA_CA_CERTS (Node 20 would parse the file before any JavaScript runs) and hands it
// back to pier, which then trusts it for its own connections and passes it on to jobs.

const launcher = join(repoRoot, "bin/pier.js");
let scratch: string;
let caFile: string;
let server: Server;
let includeUrl: string;

function pier(
  how: "installed command" | "node bin/pier.js",
  args: string[],
  env: Record<string, string>,
): Promise<PierRun> {
  const base = { ...process.env };
  delete base["NODE_EXTRA_CA_CERTS"];
  const options = {
    env: {
      ...base,
      XDG_STATE_HOME: join(scratch, "state"),
      XDG_CACHE_HOME: join(scratch, "cache"),
      NO_COLOR: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"],
  };
  return finished(
    how === "installed command"
      ? spawn(launcher, args, options)
      : spawn(process.execPath, [launcher, ...args], options),
  );
}

beforeAll(async () => {
  ensureBuilt();
  scratch = mkdtempSync(join(tmpdir(), "pier-launcher-ca-"));
  const certs = makeTestCertificates(scratch, "pier-launcher-test-ca");
  caFile = certs.ca;
  server = createServer(
    { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) },
    (request, response) => {
      // A moved file: followed like GitLab follows it.
      if (request.url === "/moved.yml") response.writeHead(302, { Location: "/ci.yml" }).end();
      else response.end("from-remote:\n  script: echo remote\n");
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  includeUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}/moved.yml`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

describe("the pier command and NODE_EXTRA_CA_CERTS", () => {
  it("starts Node without reading the file (Node itself warns about a missing one at start)", async () => {
    const missing = { NODE_EXTRA_CA_CERTS: join(scratch, "missing.pem") };
    const installed = await pier("installed command", ["--version"], missing);
    expect(installed.code).toBe(0);
    expect(installed.stderr).not.toContain("Ignoring extra certs");
    // The same file given to Node directly: read (and warned about) before pier runs.
    const direct = await pier("node bin/pier.js", ["--version"], missing);
    expect(direct.code).toBe(0);
    expect(direct.stderr).toContain("Ignoring extra certs");
    // With the system's store the file extends it, which pier cannot rebuild: Node reads it.
    const openssl = await pier("installed command", ["--version"], {
      ...missing,
      NODE_OPTIONS: "--use-openssl-ca",
    });
    expect(openssl.code).toBe(0);
    expect(openssl.stderr).toContain("Ignoring extra certs");
  });

  it("trusts the file's CAs for a remote include, either way it was started", async () => {
    const repo = makeRepository({ ".gitlab-ci.yml": `include: '${includeUrl}'\n` });
    try {
      for (const how of ["installed command", "node bin/pier.js"] as const) {
        const listed = await pier(how, ["list", "-C", repo], { NODE_EXTRA_CA_CERTS: caFile });
        expect(listed.stderr, how).toBe("");
        expect(listed.stdout, how).toContain("from-remote");
        expect(listed.code, how).toBe(0);
      }
      // Without the CA the server is not trusted (and nothing was cached by the runs above
      // for this fresh cache folder).
      const untrusted = await pier("installed command", ["list", "-C", repo], {
        XDG_CACHE_HOME: join(scratch, "other-cache"),
      });
      expect(untrusted.code).toBe(2);
      expect(untrusted.stderr).toContain("could not be fetched because of a socket error");
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it("gives jobs the variable as the user set it, and nothing of its own", async () => {
    const repo = makeRepository({
      ".gitlab-ci.yml":
        "show:\n  script:\n    - 'echo \"ca=$NODE_EXTRA_CA_CERTS\"'\n    - 'env | grep -c PIER_DEFERRED || true'\n",
    });
    try {
      const run = await pier("installed command", ["run", "-C", repo, "--plain"], {
        NODE_EXTRA_CA_CERTS: caFile,
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`ca=${caFile}`);
      expect(run.stdout).toMatch(/^show\s+│ 0$/m);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
