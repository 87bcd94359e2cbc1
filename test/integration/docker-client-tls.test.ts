import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type DockerClient, connectDocker } from "../../src/docker/docker-client.ts";
import { dockerEndpointFromEnvironment } from "../../src/docker/docker-endpoint.ts";
import { DockerUnavailableError } from "../../src/docker/docker-errors.ts";

const run = promisify(execFile);
const LABELS = { "pier.managed": "true", "pier.test": "docker-client" };

/** A CA, and a certificate signed by it for `purpose` (serverAuth with 127.0.0.1, or clientAuth). */
async function makeCertificates(dir: string): Promise<void> {
  const openssl = async (args: string[]): Promise<void> => {
    await run("openssl", args, { cwd: dir });
  };
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ecKey,
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=pier-test-ca",
  ]);
  await writeFile(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await writeFile(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  for (const [name, subject] of [
    ["server", "/CN=127.0.0.1"],
    ["client", "/CN=pier-test-client"],
  ] as const) {
    await openssl([
      "req",
      ...ecKey,
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "1",
      "-extfile",
      `${name}.ext`,
    ]);
  }
}

/**
 * Stands in for a TLS engine (what DinD serves on 2376): TLS with client certificates on an
 * ephemeral loopback port, each connection spliced byte for byte onto the local engine's
 * socket, so hijacked attach/exec and half-close go through real TLS.
 */
async function startTlsFront(dir: string): Promise<{ port: number; close: () => Promise<void> }> {
  const engine = dockerEndpointFromEnvironment(process.env);
  if (engine.kind !== "unix") throw new Error("this test fronts a unix-socket engine");
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: await readFile(join(dir, "server-key.pem")),
      cert: await readFile(join(dir, "server.pem")),
      ca: await readFile(join(dir, "ca.pem")),
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
  let front: { port: number; close: () => Promise<void> };
  let docker: DockerClient | undefined;
  const containers: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pier-docker-tls-"));
    await makeCertificates(dir);
    const clientDir = join(dir, "client");
    await mkdir(clientDir);
    for (const [from, to] of [
      ["ca.pem", "ca.pem"],
      ["client.pem", "cert.pem"],
      ["client-key.pem", "key.pem"],
    ] as const) {
      await writeFile(join(clientDir, to), await readFile(join(dir, from)));
    }
    front = await startTlsFront(dir);
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
    const streams = await docker.containers.attach(Id, { stdin: true });
    const pending = await docker.containers.beginWait(Id, { condition: "next-exit" });
    await docker.containers.start(Id);
    streams.stdin.end("echo over tls\necho err >&2\n(exit 6)\n");
    const collect = async (stream: AsyncIterable<unknown>): Promise<string> => {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString();
    };
    const [stdout, stderr, exit] = await Promise.all([
      collect(streams.stdout),
      collect(streams.stderr),
      pending.exit,
    ]);
    expect({ stdout, stderr, code: exit.StatusCode }).toEqual({
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
    await makeCertificates(otherDir);
    await writeFile(join(otherDir, "cert.pem"), await readFile(join(dir, "client.pem")));
    await writeFile(join(otherDir, "key.pem"), await readFile(join(dir, "client-key.pem")));
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
    await writeFile(join(noClientCert, "ca.pem"), await readFile(join(dir, "ca.pem")));
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
