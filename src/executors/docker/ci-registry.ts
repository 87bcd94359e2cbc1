import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { DockerClient } from "../../docker/docker-client.ts";
import { DockerApiError } from "../../docker/docker-errors.ts";
import { packTarToBuffer } from "../../docker/tar-writer.ts";
import { PierError } from "../../errors.ts";
import { markKeptUse } from "../../gc/kept-use.ts";
import { KEEP_LABEL, ownerLabels } from "../../gc/owner-labels.ts";
import { htpasswdLine, type RegistryCredentials } from "./ci-registry-credentials.ts";
import { ensureRegistryTls } from "./ci-registry-tls.ts";

/**
 * The name jobs and DinD daemons use for pier's registry: the pipeline compiler's default
 * CI_REGISTRY. It listens on 443 inside its container, so the name needs no port and the CA
 * goes to /etc/docker/certs.d/registry.pier.local/ca.crt.
 */
export const MANAGED_REGISTRY_HOST = "registry.pier.local";
export const DEFAULT_REGISTRY_IMAGE = "registry:2";
/** The storage volume, shared by every pier run on this engine and kept across runs. */
export const REGISTRY_STORAGE_VOLUME = "pier-registry-storage";
export const REGISTRY_KEEP = "registry";

const CONFIG_DIR = "/etc/pier-registry";

/** A registry pier started for one run; reachable only through the job networks it joins. */
export interface ManagedRegistry {
  host: string;
  caFile: string;
  containerId: string;
  /** Joins a job network under the alias `host`. */
  connect(networkId: string, signal?: AbortSignal): Promise<void>;
  /** Leaves a job network (before the executor removes it). A network already gone is fine. */
  disconnect(networkId: string): Promise<void>;
  /** Removes the container (the storage volume stays). Idempotent. */
  stop(): Promise<void>;
}

export interface StartRegistryOptions {
  client: DockerClient;
  stateDir: string;
  credentials: RegistryCredentials;
  image?: string;
  /** Default REGISTRY_STORAGE_VOLUME (tests use their own). */
  storageVolume?: string;
  /** Extra labels (tests mark their objects). */
  labels?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Starts `registry:2` with TLS (pier's CA), htpasswd auth for this run's credentials and the
 * shared storage volume. No port is published: jobs and DinD services reach it by its alias on
 * their own network, so two runs never clash and nothing listens on the host.
 */
export async function startManagedRegistry(o: StartRegistryOptions): Promise<ManagedRegistry> {
  const { client } = o;
  const image = o.image ?? DEFAULT_REGISTRY_IMAGE;
  const tls = await ensureRegistryTls(o.stateDir, MANAGED_REGISTRY_HOST);
  const labels = { ...ownerLabels(), ...o.labels };
  const signal = o.signal;
  const storage = o.storageVolume ?? REGISTRY_STORAGE_VOLUME;

  if ((await client.images.find(image, { signal })) === undefined) {
    throw new PierError(
      `pier's CI registry needs the image ${image}, which is not on this engine: pull or load it, set pier_registry_image in [runners.docker], or name an external registry with pier_registry_url`,
    );
  }
  await client.volumes.create(
    { Name: storage, Labels: { ...labels, [KEEP_LABEL]: REGISTRY_KEEP } },
    { signal },
  );
  await markKeptUse(o.stateDir, storage);
  const name = `pier-registry-${String(process.pid)}-${randomBytes(3).toString("hex")}`;
  const created = await client.containers.create(
    {
      Image: image,
      Labels: { ...labels, "pier.role": "registry" },
      Env: [
        "REGISTRY_HTTP_ADDR=:443",
        `REGISTRY_HTTP_TLS_CERTIFICATE=${CONFIG_DIR}/server.pem`,
        `REGISTRY_HTTP_TLS_KEY=${CONFIG_DIR}/server-key.pem`,
        "REGISTRY_AUTH=htpasswd",
        "REGISTRY_AUTH_HTPASSWD_REALM=pier CI registry",
        `REGISTRY_AUTH_HTPASSWD_PATH=${CONFIG_DIR}/htpasswd`,
        "REGISTRY_STORAGE_DELETE_ENABLED=true",
        "REGISTRY_LOG_ACCESSLOG_DISABLED=true",
      ],
      HostConfig: {
        Mounts: [{ Type: "volume", Source: storage, Target: "/var/lib/registry" }],
      },
    },
    { name, signal },
  );
  const containerId = created.Id;
  const remove = async (): Promise<void> => {
    await client.containers.remove(containerId, {
      force: true,
      volumes: true,
      ignoreMissing: true,
    });
  };
  try {
    const [cert, key] = await Promise.all([readFile(tls.serverCert), readFile(tls.serverKey)]);
    const archive = await packTarToBuffer([
      { path: "etc/pier-registry", type: "directory", mode: 0o755 },
      { path: "etc/pier-registry/server.pem", type: "file", content: cert },
      { path: "etc/pier-registry/server-key.pem", type: "file", mode: 0o600, content: key },
      {
        path: "etc/pier-registry/htpasswd",
        type: "file",
        mode: 0o600,
        content: htpasswdLine(o.credentials),
      },
    ]);
    await client.archive.put(containerId, "/", archive, { signal });
    await client.containers.start(containerId, { signal });
    await waitUntilListening(client, containerId, signal);
  } catch (error) {
    await remove().catch(() => undefined);
    throw error;
  }

  let stopped: Promise<void> | undefined;
  return {
    host: MANAGED_REGISTRY_HOST,
    caFile: tls.caFile,
    containerId,
    async connect(networkId, connectSignal) {
      await client.networks.connect(networkId, containerId, {
        aliases: [MANAGED_REGISTRY_HOST],
        signal: connectSignal,
      });
    },
    async disconnect(networkId) {
      try {
        await client.networks.disconnect(networkId, containerId, { force: true });
      } catch (error) {
        if (error instanceof DockerApiError && (error.isNotFound || error.status === 500)) return;
        throw error;
      }
    },
    stop() {
      stopped ??= remove();
      return stopped;
    },
  };
}

/** The registry logs "listening on" once its TLS socket is open (a second or less). */
async function waitUntilListening(
  client: DockerClient,
  containerId: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  let output = "";
  while (Date.now() < deadline) {
    const logs = await client.containers.logs(containerId, { signal });
    output = (await Promise.all([collect(logs.stdout), collect(logs.stderr)])).join("");
    if (/listening on/i.test(output)) return;
    const state = await client.containers.inspect(containerId, { signal });
    if (!state.State.Running) break;
    await sleep(50, undefined, { signal });
  }
  throw new PierError(
    `pier's CI registry did not start:\n${output.trim().split("\n").slice(-10).join("\n")}`,
  );
}

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
