import {
  MIN_API_VERSION,
  compareApiVersions,
  isApiVersion,
  negotiateApiVersion,
} from "./api-version.ts";
import { type ArchiveOperations, archiveOperations } from "./archive.ts";
import { type ContainerOperations, containerOperations } from "./containers.ts";
import {
  type DockerEndpoint,
  type DockerEnvironment,
  dockerEndpointFromEnvironment,
} from "./docker-endpoint.ts";
import { DockerUnavailableError } from "./docker-errors.ts";
import { loadDockerTlsMaterial } from "./docker-tls.ts";
import { EngineTransport } from "./engine-transport.ts";
import { type EventOperations, eventOperations } from "./events.ts";
import { type ExecOperations, execOperations } from "./exec.ts";
import { type ImageOperations, imageOperations } from "./images.ts";
import { type NetworkOperations, networkOperations } from "./networks.ts";
import type { RequestOptions } from "./request-options.ts";
import { type VolumeOperations, volumeOperations } from "./volumes.ts";

export interface EngineVersion {
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  Os: string;
  Arch: string;
}

/** A connected engine: every call is versioned with `apiVersion` and takes an AbortSignal. */
export interface DockerClient {
  readonly endpoint: DockerEndpoint;
  /** The version in every path: min(ours, the engine's), or DOCKER_API_VERSION when set. */
  readonly apiVersion: string;
  readonly containers: ContainerOperations;
  readonly exec: ExecOperations;
  readonly archive: ArchiveOperations;
  readonly networks: NetworkOperations;
  readonly volumes: VolumeOperations;
  readonly images: ImageOperations;
  readonly events: EventOperations;
  /** The engine's `Api-Version` header; throws DockerUnavailableError when it does not answer. */
  ping(options?: RequestOptions): Promise<string | undefined>;
  version(options?: RequestOptions): Promise<EngineVersion>;
  /** Closes idle keep-alive connections; streams in flight are not touched. */
  close(): void;
}

export interface ConnectOptions extends RequestOptions {
  /** Where DOCKER_HOST and friends are read; default process.env. */
  env?: DockerEnvironment & { DOCKER_API_VERSION?: string | undefined };
}

/**
 * Finds the engine the way the docker CLI does, pings it and negotiates the API version.
 * Throws DockerUnavailableError (with the address) when nothing answers.
 */
export async function connectDocker(options: ConnectOptions = {}): Promise<DockerClient> {
  const env = options.env ?? process.env;
  const endpoint = dockerEndpointFromEnvironment(env);
  const tls =
    endpoint.kind === "tcp" && endpoint.tls !== undefined
      ? await loadDockerTlsMaterial(endpoint.tls, endpoint.display)
      : undefined;
  const transport = new EngineTransport(endpoint, tls);
  try {
    const serverVersion = await pingEngine(transport, options.signal);
    const pinned = env.DOCKER_API_VERSION?.trim();
    if (pinned !== undefined && pinned !== "" && !isApiVersion(pinned)) {
      throw new DockerUnavailableError(
        endpoint.display,
        `DOCKER_API_VERSION "${pinned}" is not a version like 1.41`,
      );
    }
    const apiVersion =
      pinned !== undefined && pinned !== "" ? pinned : negotiateApiVersion(serverVersion);
    if (compareApiVersions(apiVersion, MIN_API_VERSION) < 0) {
      throw new DockerUnavailableError(
        endpoint.display,
        `the engine speaks API ${apiVersion}; pier needs ${MIN_API_VERSION} or newer (Docker 19.03+)`,
      );
    }
    transport.apiVersion = apiVersion;
    return createDockerClient(transport, apiVersion);
  } catch (error) {
    transport.close();
    throw error;
  }
}

function createDockerClient(transport: EngineTransport, apiVersion: string): DockerClient {
  return {
    endpoint: transport.endpoint,
    apiVersion,
    containers: containerOperations(transport),
    exec: execOperations(transport),
    archive: archiveOperations(transport),
    networks: networkOperations(transport),
    volumes: volumeOperations(transport),
    images: imageOperations(transport),
    events: eventOperations(transport),
    ping: (options = {}) => pingEngine(transport, options.signal),
    version: (options = {}) =>
      transport.json<EngineVersion>({ method: "GET", path: "/version", signal: options.signal }),
    close: () => transport.close(),
  };
}

async function pingEngine(
  transport: EngineTransport,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const response = await transport.send({
    method: "GET",
    path: "/_ping",
    unversioned: true,
    signal,
  });
  response.resume();
  const header = response.headers["api-version"];
  return Array.isArray(header) ? header[0] : header;
}
