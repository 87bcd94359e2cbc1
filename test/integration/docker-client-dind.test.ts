import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { type DockerClient, connectDocker } from "../../src/docker/docker-client.ts";
import { readTar } from "../../src/docker/tar-reader.ts";
import { runAttachedScript } from "../support/attached-script.ts";

const LABELS = { "pier.managed": "true", "pier.test": "docker-client" };
const SLOW = 240_000;

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 150_000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out waiting for ${what}: ${String(last)}`);
}

// A real TLS engine: docker:dind with DOCKER_TLS_CERTDIR, reached on its bridge address with the
// client certificates it generated (copied out through the archive API), as a job would.
describe("Docker client against a DinD engine over TLS", () => {
  let outer: DockerClient;
  let inner: DockerClient | undefined;
  let dind = "";
  let plainDind = "";
  let certDir = "";

  beforeAll(async () => {
    outer = await connectDocker();
    certDir = await mkdtemp(join(tmpdir(), "pier-dind-certs-"));
  });

  afterAll(async () => {
    inner?.close();
    for (const id of [dind, plainDind]) {
      if (id !== "") await outer.containers.remove(id, { ignoreMissing: true });
    }
    expect(await outer.containers.list({ labels: LABELS })).toEqual([]);
    outer.close();
    await rm(certDir, { recursive: true, force: true });
  });

  it(
    "connects with the generated certificates, pulls with progress and runs a stdin script inside",
    async () => {
      const created = await outer.containers.create({
        Image: "docker:19.03.13-dind",
        Env: ["DOCKER_TLS_CERTDIR=/certs", "DIND_KEY=ec"],
        Labels: LABELS,
        HostConfig: { Privileged: true },
      });
      dind = created.Id;
      await outer.containers.start(dind);

      const files = await eventually("the client certificates", async () => {
        const { tar } = await outer.archive.get(dind, "/certs/client");
        const found = new Map<string, Buffer>();
        for await (const entry of readTar(tar)) {
          const name = entry.path.split("/").pop() ?? "";
          if (entry.type === "file" && entry.size > 0) found.set(name, entry.content);
        }
        return ["ca.pem", "cert.pem", "key.pem"].every((name) => found.has(name))
          ? found
          : undefined;
      });
      for (const [name, content] of files) await writeFile(join(certDir, name), content);
      const address = (await outer.containers.inspect(dind)).NetworkSettings.Networks.bridge
        ?.IPAddress;
      expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

      inner = await eventually("the DinD engine", () =>
        connectDocker({
          env: {
            DOCKER_HOST: `tcp://${address}:2376`,
            DOCKER_TLS_VERIFY: "1",
            DOCKER_CERT_PATH: certDir,
          },
        }),
      );
      expect(inner.endpoint.display).toBe(`tcp://${address}:2376`);
      expect((await inner.version()).ApiVersion).toBe(await inner.ping());

      const progress: string[] = [];
      await inner.images.pull("busybox", {
        onProgress: (line) => progress.push(line.status ?? ""),
      });
      expect(progress.join("\n")).toMatch(/Pulling from library\/busybox/);
      expect(progress.join("\n")).toMatch(/Downloaded newer image for busybox:latest/);

      const { Id } = await inner.containers.create({
        Image: "busybox:latest",
        Cmd: ["sh", "-s"],
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
      });
      expect(
        await runAttachedScript(inner, Id, "echo inside dind\necho warn >&2\n(exit 9)\n"),
      ).toEqual({
        stdout: "inside dind\n",
        stderr: "warn\n",
        code: 9,
      });
      await inner.containers.remove(Id);
    },
    SLOW,
  );

  it(
    "connects over plain TCP (DOCKER_TLS_CERTDIR empty, port 2375) and execs",
    async () => {
      const created = await outer.containers.create({
        Image: "docker:19.03.13-dind",
        Env: ["DOCKER_TLS_CERTDIR="],
        Labels: LABELS,
        HostConfig: { Privileged: true },
      });
      plainDind = created.Id;
      await outer.containers.start(plainDind);
      const address = (await outer.containers.inspect(plainDind)).NetworkSettings.Networks.bridge
        ?.IPAddress;
      const plain = await eventually("the plain DinD engine", () =>
        connectDocker({ env: { DOCKER_HOST: `tcp://${address}:2375` } }),
      );
      try {
        expect(plain.endpoint).toEqual({
          kind: "tcp",
          host: address,
          port: 2375,
          display: `tcp://${address}:2375`,
        });
        await plain.images.pull("busybox:latest");
        const { Id } = await plain.containers.create({ Image: "busybox", Cmd: ["sleep", "60"] });
        await plain.containers.start(Id);
        expect(await plain.exec.run(Id, { Cmd: ["sh", "-c", "echo plain; exit 3"] })).toEqual({
          exitCode: 3,
          stdout: "plain\n",
          stderr: "",
        });
        await plain.containers.remove(Id);
      } finally {
        plain.close();
      }
    },
    SLOW,
  );
});
