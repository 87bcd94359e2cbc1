import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { dockerEndpointFromEnvironment } from "../../../src/docker/docker-endpoint.ts";
import { DockerUnavailableError } from "../../../src/docker/docker-errors.ts";
import { loadDockerTlsMaterial } from "../../../src/docker/docker-tls.ts";

describe("dockerEndpointFromEnvironment", () => {
  it("defaults to the unix socket", () => {
    expect(dockerEndpointFromEnvironment({})).toEqual({
      kind: "unix",
      socketPath: "/var/run/docker.sock",
      display: "unix:///var/run/docker.sock",
    });
    expect(dockerEndpointFromEnvironment({ DOCKER_HOST: "" }).kind).toBe("unix");
    expect(
      dockerEndpointFromEnvironment({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" }),
    ).toMatchObject({ kind: "unix", socketPath: "/run/user/1000/docker.sock" });
  });

  it("reads tcp hosts with the CLI's default ports", () => {
    expect(dockerEndpointFromEnvironment({ DOCKER_HOST: "tcp://docker:2375" })).toEqual({
      kind: "tcp",
      host: "docker",
      port: 2375,
      display: "tcp://docker:2375",
    });
    expect(dockerEndpointFromEnvironment({ DOCKER_HOST: "tcp://docker" })).toMatchObject({
      port: 2375,
    });
    expect(
      dockerEndpointFromEnvironment({ DOCKER_HOST: "tcp://docker", DOCKER_TLS_VERIFY: "1" }),
    ).toMatchObject({ port: 2376 });
    expect(dockerEndpointFromEnvironment({ DOCKER_HOST: "tcp://[::1]:2376/" })).toMatchObject({
      host: "::1",
      port: 2376,
      display: "tcp://[::1]:2376",
    });
  });

  it("turns TLS on like the docker CLI: DOCKER_TLS_VERIFY verifies, DOCKER_TLS alone does not", () => {
    const env = { DOCKER_HOST: "tcp://docker:2376", DOCKER_CERT_PATH: "/certs/client" };
    expect(dockerEndpointFromEnvironment({ ...env, DOCKER_TLS_VERIFY: "1" })).toMatchObject({
      tls: { certDir: "/certs/client", verify: true },
    });
    expect(dockerEndpointFromEnvironment({ ...env, DOCKER_TLS: "1" })).toMatchObject({
      tls: { certDir: "/certs/client", verify: false },
    });
    expect(dockerEndpointFromEnvironment({ ...env, DOCKER_TLS_VERIFY: "" })).not.toHaveProperty(
      "tls",
    );
    expect(
      dockerEndpointFromEnvironment({
        DOCKER_HOST: "tcp://d:1",
        DOCKER_TLS_VERIFY: "1",
        HOME: "/home/u",
      }),
    ).toMatchObject({ tls: { certDir: "/home/u/.docker" } });
  });

  it("refuses what it cannot speak, with the host in the message", () => {
    for (const host of [
      "ssh://me@box",
      "npipe:////./pipe/docker_engine",
      "docker:2375",
      "unix://relative.sock",
      "tcp://docker:99999",
      "tcp://:2375",
    ]) {
      expect(() => dockerEndpointFromEnvironment({ DOCKER_HOST: host })).toThrow(
        DockerUnavailableError,
      );
    }
    expect(() => dockerEndpointFromEnvironment({ DOCKER_HOST: "ssh://me@box" })).toThrow(
      "cannot reach the Docker engine at ssh://me@box: DOCKER_HOST scheme ssh:// is not supported (use unix:// or tcp://)",
    );
  });
});

describe("loadDockerTlsMaterial", () => {
  it("loads ca, cert and key, and insists on ca.pem when verifying", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pier-docker-tls-"));
    try {
      await expect(
        loadDockerTlsMaterial({ certDir: dir, verify: true }, "tcp://d:2376"),
      ).rejects.toThrow(/DOCKER_TLS_VERIFY is set but .*ca\.pem cannot be read/);
      expect(await loadDockerTlsMaterial({ certDir: dir, verify: false }, "tcp://d:2376")).toEqual({
        rejectUnauthorized: false,
      });
      await writeFile(join(dir, "ca.pem"), "CA");
      await writeFile(join(dir, "cert.pem"), "CERT");
      await expect(
        loadDockerTlsMaterial({ certDir: dir, verify: true }, "tcp://d:2376"),
      ).rejects.toThrow(/only one of cert\.pem and key\.pem/);
      await writeFile(join(dir, "key.pem"), "KEY");
      const material = await loadDockerTlsMaterial({ certDir: dir, verify: true }, "tcp://d:2376");
      expect({
        ca: material.ca?.toString(),
        cert: material.cert?.toString(),
        key: material.key?.toString(),
        rejectUnauthorized: material.rejectUnauthorized,
      }).toEqual({ ca: "CA", cert: "CERT", key: "KEY", rejectUnauthorized: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
