import { homedir } from "node:os";
import { join } from "node:path";

import { DockerUnavailableError } from "./docker-errors.ts";

export const DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock";

/** Where the certificates live and whether the server certificate is checked against ca.pem. */
export interface DockerTlsSettings {
  certDir: string;
  verify: boolean;
}

export type DockerEndpoint =
  | { kind: "unix"; socketPath: string; display: string }
  | { kind: "tcp"; host: string; port: number; tls?: DockerTlsSettings; display: string };

/** The variables the docker CLI reads to find its engine. */
export interface DockerEnvironment {
  DOCKER_HOST?: string | undefined;
  DOCKER_TLS_VERIFY?: string | undefined;
  DOCKER_TLS?: string | undefined;
  DOCKER_CERT_PATH?: string | undefined;
  HOME?: string | undefined;
}

/**
 * Reads DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH as the docker CLI does:
 * any non-empty DOCKER_TLS_VERIFY turns verification on (even "0", like the CLI), DOCKER_TLS
 * alone gives TLS without verification, and a tcp:// host without a port gets 2376 with TLS and
 * 2375 without.
 */
export function dockerEndpointFromEnvironment(env: DockerEnvironment): DockerEndpoint {
  const rawHost = env.DOCKER_HOST?.trim() || `unix://${DEFAULT_DOCKER_SOCKET}`;
  const verify = nonEmpty(env.DOCKER_TLS_VERIFY);
  const wantsTls = verify || nonEmpty(env.DOCKER_TLS);
  const certDir = nonEmpty(env.DOCKER_CERT_PATH)
    ? (env.DOCKER_CERT_PATH as string)
    : join(env.HOME ?? homedir(), ".docker");

  const schemeEnd = rawHost.indexOf("://");
  if (schemeEnd < 0) {
    throw new DockerUnavailableError(rawHost, "DOCKER_HOST must start with unix:// or tcp://");
  }
  const scheme = rawHost.slice(0, schemeEnd).toLowerCase();
  const rest = rawHost.slice(schemeEnd + 3);

  if (scheme === "unix") {
    const socketPath = rest === "" ? DEFAULT_DOCKER_SOCKET : rest;
    if (!socketPath.startsWith("/")) {
      throw new DockerUnavailableError(rawHost, "a unix:// DOCKER_HOST needs an absolute path");
    }
    return { kind: "unix", socketPath, display: `unix://${socketPath}` };
  }
  if (scheme === "tcp" || scheme === "http" || scheme === "https") {
    const tlsOn = wantsTls || scheme === "https";
    const { host, port } = parseHostAndPort(rawHost, rest, tlsOn ? 2376 : 2375);
    const display = `tcp://${host.includes(":") ? `[${host}]` : host}:${port}`;
    return tlsOn
      ? { kind: "tcp", host, port, tls: { certDir, verify }, display }
      : { kind: "tcp", host, port, display };
  }
  throw new DockerUnavailableError(
    rawHost,
    `DOCKER_HOST scheme ${scheme}:// is not supported (use unix:// or tcp://)`,
  );
}

function parseHostAndPort(
  rawHost: string,
  rest: string,
  defaultPort: number,
): { host: string; port: number } {
  const authority = rest.replace(/\/+$/, "");
  if (authority === "" || authority.includes("/")) {
    throw new DockerUnavailableError(rawHost, "DOCKER_HOST must look like tcp://HOST:PORT");
  }
  let host: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) throw new DockerUnavailableError(rawHost, "unclosed [ in DOCKER_HOST");
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) {
      throw new DockerUnavailableError(rawHost, "DOCKER_HOST must look like tcp://HOST:PORT");
    }
    portText = after === "" ? undefined : after.slice(1);
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
  }
  if (host === "") throw new DockerUnavailableError(rawHost, "DOCKER_HOST has no host name");
  if (portText === undefined || portText === "") return { host, port: defaultPort };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new DockerUnavailableError(rawHost, `invalid port "${portText}" in DOCKER_HOST`);
  }
  return { host, port };
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value !== "";
}
