import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type DockerClient, connectDocker } from "../../src/docker/docker-client.ts";
import { dockerEndpointFromEnvironment } from "../../src/docker/docker-endpoint.ts";
import { DockerUnavailableError } from "../../src/docker/docker-errors.ts";
import { runAttachedScript } from "../support/attached-script.ts";
import { makeTestCertificates, type TestCertificates } from "../support/test-certificates.ts";

const LABELS = { "pier.managed": "true", "pier.test": "docker-client" };

/**
 * Stands in for a TLS engine (what DinD serves on 2376): TLS with client certificates on an
 * ephemeral loopback port, each connection spliced byte for byte onto the local engine's
 * socket, so hijacked attach/exec and half-close go through real TLS.
 */
async function startTlsFront(
  certificates: TestCertificates,
): Promise<{ port: number; close: () => Promise<void> }> {
  const engine = dockerEndpointFromEnvironment(process.env);
  if (engine.kind !== "unix") throw new Error("this test fronts a unix-socket engine");
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: await readFile(certificates.serverKey),
      cert: await readFile(certificates.serverCert),
      ca: await readFile(certificates.ca),
      requestCert: true,
      rejectUnauthorized: true,
      allowHalfOpen: true,
    },
    (client) => {
      client.on("close", () => upstream.destroy());
      const upstream = net.connect({ path: engine.socketPath, allowHalfOpen: true });
      client.pipe(upstream);
      upstream.pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    },
  );
  // Handshakes the tests make fail on purpose: close them (a listener makes that our job).
  server.on("tlsClientError", (_error, socket) => socket.destroy());
  // Half-open handshakes would otherwise hold close() for the 120 s handshake timeout.
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

describe("Docker client over TCP with TLS (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH)", () => {
  let dir = "";
  let certificates: TestCertificates;
  let front: { port: number; close: () => Promise<void> };
  let docker: DockerClient | undefined;
  const containers: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pier-docker-tls-"));
    certificates = makeTestCertificates(dir);
    // DOCKER_CERT_PATH's layout.
    const clientDir = join(dir, "client");
    await mkdir(clientDir);
    await copyFile(certificates.ca, join(clientDir, "ca.pem"));
    await copyFile(certificates.clientCert, join(clientDir, "cert.pem"));
    await copyFile(certificates.clientKey, join(clientDir, "key.pem"));
    front = await startTlsFront(certificates);
  });

  afterAll(async () => {
    for (const id of containers) await docker?.containers.remove(id, { ignoreMissing: true });
    docker?.close();
    await front.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("negotiates, attaches with stdin and half-close, execs and removes over TLS", async () => {
    docker = await connectDocker({
      env: {
        DOCKER_HOST: `tcp://127.0.0.1:${front.port}`,
        DOCKER_TLS_VERIFY: "1",
        DOCKER_CERT_PATH: join(dir, "client"),
      },
    });
    expect(docker.endpoint).toMatchObject({ kind: "tcp", tls: { verify: true } });
    expect(docker.apiVersion).toMatch(/^1\.\d+$/);

    const { Id } = await docker.containers.create({
      Image: "busybox:latest",
      Cmd: ["sh", "-s"],
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      Labels: LABELS,
    });
    containers.push(Id);
    expect(await runAttachedScript(docker, Id, "echo over tls\necho err >&2\n(exit 6)\n")).toEqual({
      stdout: "over tls\n",
      stderr: "err\n",
      code: 6,
    });

    const { Id: sleeper } = await docker.containers.create({
      Image: "busybox:latest",
      Cmd: ["sleep", "300"],
      Labels: LABELS,
    });
    containers.push(sleeper);
    await docker.containers.start(sleeper);
    expect(await docker.exec.run(sleeper, { Cmd: ["cat"] }, { stdin: "piped" })).toEqual({
      exitCode: 0,
      stdout: "piped",
      stderr: "",
    });
    await docker.containers.remove(sleeper);
    await docker.containers.remove(Id);
    expect(await docker.containers.list({ labels: LABELS })).toEqual([]);
  });

  it("refuses an engine whose certificate another CA signed", async () => {
    const otherDir = join(dir, "other-ca");
    await mkdir(otherDir);
    makeTestCertificates(otherDir, "pier-other-ca");
    await copyFile(certificates.clientCert, join(otherDir, "cert.pem"));
    await copyFile(certificates.clientKey, join(otherDir, "key.pem"));
    const attempt = connectDocker({
      env: {
        DOCKER_HOST: `tcp://127.0.0.1:${front.port}`,
        DOCKER_TLS_VERIFY: "1",
        DOCKER_CERT_PATH: otherDir,
      },
    });
    await expect(attempt).rejects.toBeInstanceOf(DockerUnavailableError);
    await expect(attempt).rejects.toThrow(
      new RegExp(
        `^cannot reach the Docker engine at tcp://127\\.0\\.0\\.1:${front.port}: .*certificate`,
      ),
    );
  });

  it("is refused without a client certificate", async () => {
    const noClientCert = join(dir, "ca-only");
    await mkdir(noClientCert);
    await copyFile(certificates.ca, join(noClientCert, "ca.pem"));
    await expect(
      connectDocker({
        env: {
          DOCKER_HOST: `tcp://127.0.0.1:${front.port}`,
          DOCKER_TLS_VERIFY: "1",
          DOCKER_CERT_PATH: noClientCert,
        },
      }),
    ).rejects.toThrow(/Docker engine at tcp:\/\/127\.0\.0\.1/);
  });
});
