import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { PierError } from "../../errors.ts";

/** Made when first needed: promisify touches child_process, which pier's start defers. */
let execFileAsync: typeof runOpenssl | undefined;
function runOpenssl(
  command: string,
  args: string[],
  options: { timeout: number },
): Promise<unknown> {
  execFileAsync ??= promisify(execFile);
  return execFileAsync(command, args, options);
}

/** The CA and the server certificate of pier's CI registry, as files on the host. */
export interface RegistryTls {
  /** The CA certificate DinD daemons trust (mounted at /etc/docker/certs.d/<host>/ca.crt). */
  caFile: string;
  serverCert: string;
  serverKey: string;
}

/**
 * The registry's TLS material under `<state>/registry/tls/<host>/`, made once with openssl and
 * kept: a CA of pier's own (EC P-256, 10 years) and a server certificate for `host` signed by
 * it. Two pier processes making it at once both succeed: each writes a private folder and
 * renames it into place; the loser uses the winner's.
 */
export async function ensureRegistryTls(stateDir: string, host: string): Promise<RegistryTls> {
  const dir = join(stateDir, "registry", "tls", host);
  const tls: RegistryTls = {
    caFile: join(dir, "ca.pem"),
    serverCert: join(dir, "server.pem"),
    serverKey: join(dir, "server-key.pem"),
  };
  if (existsSync(tls.serverKey)) return tls;

  await mkdir(join(stateDir, "registry", "tls"), { recursive: true, mode: 0o700 });
  const draft = `${dir}.draft-${String(process.pid)}-${randomBytes(4).toString("hex")}`;
  await mkdir(draft, { mode: 0o700 });
  try {
    await makeCertificates(draft, host);
    try {
      await rename(draft, dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
    }
  } finally {
    await rm(draft, { recursive: true, force: true });
  }
  return tls;
}

async function makeCertificates(dir: string, host: string): Promise<void> {
  const file = (name: string): string => join(dir, name);
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    file("ca-key.pem"),
    "-out",
    file("ca.pem"),
    "-days",
    "3650",
    "-subj",
    "/CN=pier CI registry CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl([
    "req",
    ...newKey,
    "-keyout",
    file("server-key.pem"),
    "-out",
    file("server.csr"),
    "-subj",
    `/CN=${host}`,
  ]);
  await writeFile(
    file("server.ext"),
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${host}\n`,
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.pem"),
    "-CAkey",
    file("ca-key.pem"),
    "-CAcreateserial",
    "-out",
    file("server.pem"),
    "-days",
    "825",
    "-extfile",
    file("server.ext"),
  ]);
  for (const leftover of ["server.csr", "server.ext", "ca.srl"]) {
    await rm(file(leftover), { force: true });
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await runOpenssl("openssl", args, { timeout: 30_000 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new PierError(
        "pier's CI registry needs the openssl command to make its TLS certificates: install it (Debian: apt-get install openssl), or name an external registry with pier_registry_url in [runners.docker]",
      );
    }
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new PierError(
      `openssl ${args[0] ?? ""} failed while making the CI registry's certificates: ${stderr.trim()}`,
    );
  }
}
