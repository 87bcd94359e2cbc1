import { readFile } from "node:fs/promises";
import { join } from "node:path";

import type { DockerTlsSettings } from "./docker-endpoint.ts";
import { DockerUnavailableError } from "./docker-errors.ts";

/** What node:tls needs: the CA to check the engine against, and our client certificate. */
export interface DockerTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

/**
 * Loads ca.pem, cert.pem and key.pem from the cert dir, as the docker CLI does. With
 * verification, ca.pem must exist; the client pair is used whenever both files exist
 * (DinD with TLS refuses clients without one).
 */
export async function loadDockerTlsMaterial(
  settings: DockerTlsSettings,
  hostForErrors: string,
): Promise<DockerTlsMaterial> {
  const [ca, cert, key] = await Promise.all(
    ["ca.pem", "cert.pem", "key.pem"].map((name) => readOptional(join(settings.certDir, name))),
  );
  if (settings.verify && ca === undefined) {
    throw new DockerUnavailableError(
      hostForErrors,
      `DOCKER_TLS_VERIFY is set but ${join(settings.certDir, "ca.pem")} cannot be read (set DOCKER_CERT_PATH)`,
    );
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw new DockerUnavailableError(
      hostForErrors,
      `${settings.certDir} has only one of cert.pem and key.pem; both are needed`,
    );
  }
  const material: DockerTlsMaterial = { rejectUnauthorized: settings.verify };
  if (ca !== undefined && settings.verify) material.ca = ca;
  if (cert !== undefined && key !== undefined) {
    material.cert = cert;
    material.key = key;
  }
  return material;
}

async function readOptional(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
