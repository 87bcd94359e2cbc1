import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { ContainerCreateConfig } from "../../src/docker/container-types.ts";
import { type DockerClient, connectDocker } from "../../src/docker/docker-client.ts";
import {
  DockerApiError,
  DockerProgressError,
  DockerUnavailableError,
} from "../../src/docker/docker-errors.ts";
import type { DockerEvent } from "../../src/docker/events.ts";
import { classifyPullFailure } from "../../src/docker/pull-failure.ts";
import { packTarToBuffer } from "../../src/docker/tar-writer.ts";
import { readTar } from "../../src/docker/tar-reader.ts";

const IMAGE = "busybox:latest";
const LABELS = { "pier.managed": "true", "pier.test": "docker-client" };
const RUN_ID = `${process.pid}-${randomBytes(3).toString("hex")}`;

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

describe("Docker Engine API client against the real engine", () => {
  let docker: DockerClient;
  const containers = new Set<string>();
  const networks = new Set<string>();
  const volumes = new Set<string>();
  const images = new Set<string>();

  const name = (what: string): string => `pier-test-docker-client-${what}-${RUN_ID}`;

  const create = async (
    what: string,
    config: Omit<ContainerCreateConfig, "Image"> & { Image?: string },
  ): Promise<string> => {
    const { Id } = await docker.containers.create(
      { Image: IMAGE, ...config, Labels: { ...LABELS, ...config.Labels } },
      { name: name(what) },
    );
    containers.add(Id);
    return Id;
  };

  /** create → startAttached (attach, wait next-exit, start) → feed stdin → exit code and outputs. */
  const runToEnd = async (
    what: string,
    config: Omit<ContainerCreateConfig, "Image">,
    stdin?: string,
  ): Promise<{ id: string; exitCode: number; stdout: string; stderr: string }> => {
    const withStdin = stdin !== undefined;
    const id = await create(what, {
      ...config,
      ...(withStdin ? { OpenStdin: true, StdinOnce: true, AttachStdin: true } : {}),
    });
    const { streams, exit: exited } = await docker.containers.startAttached(id, {
      stdin: withStdin,
    });
    if (withStdin) streams.stdin.end(stdin);
    const [stdout, stderr, exit] = await Promise.all([
      readAll(streams.stdout),
      readAll(streams.stderr),
      exited,
    ]);
    return { id, exitCode: exit.StatusCode, stdout, stderr };
  };

  beforeAll(async () => {
    docker = await connectDocker();
  });

  afterAll(async () => {
    const problems: unknown[] = [];
    const attempt = async (work: () => Promise<void>): Promise<void> => {
      await work().catch((error: unknown) => problems.push(error));
    };
    await Promise.all(
      [...containers].map((id) =>
        attempt(() => docker.containers.remove(id, { ignoreMissing: true })),
      ),
    );
    for (const id of networks)
      await attempt(() => docker.networks.remove(id, { ignoreMissing: true }));
    for (const volume of volumes) {
      await attempt(() => docker.volumes.remove(volume, { ignoreMissing: true }));
    }
    for (const image of images) {
      await attempt(() => docker.images.remove(image, { ignoreMissing: true, noPrune: true }));
    }
    const leftovers = {
      containers: await docker.containers.list({ labels: { "pier.test": "docker-client" } }),
      networks: await docker.networks.list({ labels: { "pier.test": "docker-client" } }),
      volumes: await docker.volumes.list({ labels: { "pier.test": "docker-client" } }),
    };
    docker.close();
    expect(problems).toEqual([]);
    expect(leftovers).toEqual({ containers: [], networks: [], volumes: [] });
  });

  it("negotiates the API version from /_ping: min(ours, the engine's)", async () => {
    const serverVersion = await docker.ping();
    expect(serverVersion).toMatch(/^1\.\d+$/);
    const expected = Number(serverVersion?.split(".")[1]) < 47 ? serverVersion : "1.47";
    expect(docker.apiVersion).toBe(expected);
    const version = await docker.version();
    expect(version.ApiVersion).toBe(serverVersion);

    const pinned = await connectDocker({ env: { ...process.env, DOCKER_API_VERSION: "1.40" } });
    try {
      expect(pinned.apiVersion).toBe("1.40");
      expect((await pinned.images.inspect(IMAGE)).Id).toMatch(/^sha256:/);
    } finally {
      pinned.close();
    }
  });

  it("says clearly when no engine answers", async () => {
    const missing = connectDocker({ env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" } });
    await expect(missing).rejects.toBeInstanceOf(DockerUnavailableError);
    await expect(missing).rejects.toThrow(
      /^cannot reach the Docker engine at unix:\/\/\/nonexistent\/docker\.sock: no socket/,
    );
    // Port 1 on loopback: nothing listens there (we never bind it).
    await expect(connectDocker({ env: { DOCKER_HOST: "tcp://127.0.0.1:1" } })).rejects.toThrow(
      /cannot reach the Docker engine at tcp:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/,
    );
  });

  it("attaches before start and separates stdout, stderr and the exit code", async () => {
    const result = await runToEnd("streams", {
      Cmd: ["sh", "-c", "echo out-1; echo err-1 >&2; echo out-2; exit 3"],
    });
    expect(result).toMatchObject({ exitCode: 3, stdout: "out-1\nout-2\n", stderr: "err-1\n" });

    const logs = await docker.containers.logs(result.id);
    const [stdout, stderr] = await Promise.all([readAll(logs.stdout), readAll(logs.stderr)]);
    expect({ stdout, stderr }).toEqual({ stdout: "out-1\nout-2\n", stderr: "err-1\n" });
    const state = (await docker.containers.inspect(result.id)).State;
    expect(state).toMatchObject({ Status: "exited", ExitCode: 3 });
  });

  it("feeds a script to `sh -s` on stdin; its end closes the shell's stdin", async () => {
    // No `exit`: the shell only ends (with the last status) when it reads end-of-file.
    const script = ['echo "answer $((6 * 7))"', "echo 'to stderr' >&2", "(exit 4)"].join("\n");
    const result = await runToEnd("stdin", { Cmd: ["sh", "-s"] }, `${script}\n`);
    expect(result).toMatchObject({ exitCode: 4, stdout: "answer 42\n", stderr: "to stderr\n" });
  });

  it("runs the same container again for a second stage, attached from the start", async () => {
    const first = await runToEnd(
      "stages",
      { Cmd: ["sh", "-s"] },
      "echo one > /stage; cat /stage\n",
    );
    expect(first).toMatchObject({ exitCode: 0, stdout: "one\n" });
    const { streams, exit } = await docker.containers.startAttached(first.id, { stdin: true });
    streams.stdin.end("echo two >> /stage; cat /stage; exit 2\n");
    const [stdout, , result] = await Promise.all([
      readAll(streams.stdout),
      readAll(streams.stderr),
      exit,
    ]);
    expect({ stdout, code: result.StatusCode }).toEqual({ stdout: "one\ntwo\n", code: 2 });
  });

  it("keeps every byte under backpressure (slow reader, 4 MiB out, 1 MiB err)", async () => {
    const id = await create("backpressure", {
      Cmd: [
        "sh",
        "-c",
        "head -c 4194304 /dev/zero | tr '\\0' o; head -c 1048576 /dev/zero | tr '\\0' e >&2",
      ],
    });
    const streams = await docker.containers.attach(id);
    const pending = await docker.containers.beginWait(id, { condition: "next-exit" });
    await docker.containers.start(id);
    // Read nothing for a while: the engine must hold the container back, not drop output.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const count = async (stream: Readable, byte: number): Promise<[number, number]> => {
      let total = 0;
      let other = 0;
      for await (const chunk of stream) {
        const buffer = chunk as Buffer;
        total += buffer.length;
        for (const value of buffer) if (value !== byte) other++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      return [total, other];
    };
    const [out, err, exit] = await Promise.all([
      count(streams.stdout, 0x6f),
      count(streams.stderr, 0x65),
      pending.exit,
    ]);
    expect(out).toEqual([4194304, 0]);
    expect(err).toEqual([1048576, 0]);
    expect(exit.StatusCode).toBe(0);
  });

  it("runs exec with its exit code, output and stdin", async () => {
    const id = await create("exec", { Cmd: ["sleep", "300"] });
    await docker.containers.start(id);
    const result = await docker.exec.run(id, {
      Cmd: ["sh", "-c", 'echo "in $PWD as $(id -u) with $GREETING"; echo oops >&2; exit 7'],
      Env: ["GREETING=hello"],
      WorkingDir: "/tmp",
    });
    expect(result).toEqual({ exitCode: 7, stdout: "in /tmp as 0 with hello\n", stderr: "oops\n" });

    const withStdin = await docker.exec.run(
      id,
      { Cmd: ["sh", "-c", "tr a-z A-Z"] },
      {
        stdin: "shout this",
      },
    );
    expect(withStdin).toEqual({ exitCode: 0, stdout: "SHOUT THIS", stderr: "" });

    await expect(
      docker.exec.run(id, { Cmd: ["/no/such/binary"] }).then((r) => r.exitCode),
    ).resolves.toBe(126);
  });

  it("puts an archive into a container and gets it back (modes, mtimes, long names)", async () => {
    const id = await create("archive", { Cmd: ["true"] });
    const mtime = new Date("2024-05-06T07:08:09Z");
    const longName = `${"deep/".repeat(20)}${"n".repeat(60)}.txt`;
    const tar = await packTarToBuffer([
      { path: "bundle", type: "directory", mode: 0o755, mtime },
      { path: "bundle/run.sh", type: "file", mode: 0o750, mtime, content: "#!/bin/sh\necho hi\n" },
      { path: `bundle/${longName}`, type: "file", mode: 0o600, mtime, content: "long" },
      { path: "bundle/link", type: "symlink", linkTarget: "run.sh", mtime },
    ]);
    await docker.archive.put(id, "/tmp", tar);

    const stat = await docker.archive.stat(id, "/tmp/bundle/run.sh");
    expect(stat).toMatchObject({ name: "run.sh", size: 18 });
    expect(await docker.archive.stat(id, "/tmp/nothing-here")).toBeUndefined();

    const { tar: stream, stat: dirStat } = await docker.archive.get(id, "/tmp/bundle");
    expect(dirStat.name).toBe("bundle");
    const entries = new Map<
      string,
      { type: string; mode: number; mtime: number; text: string; link: string }
    >();
    for await (const entry of readTar(stream)) {
      entries.set(entry.path.replace(/\/$/, ""), {
        type: entry.type,
        mode: entry.mode & 0o7777,
        mtime: entry.mtime.getTime(),
        text: entry.content.toString("utf8"),
        link: entry.linkTarget,
      });
    }
    expect(entries.get("bundle/run.sh")).toEqual({
      type: "file",
      mode: 0o750,
      mtime: mtime.getTime(),
      text: "#!/bin/sh\necho hi\n",
      link: "",
    });
    expect(entries.get(`bundle/${longName}`)).toMatchObject({
      type: "file",
      mode: 0o600,
      text: "long",
    });
    expect(entries.get("bundle/link")).toMatchObject({ type: "symlink", link: "run.sh" });
    expect(entries.get("bundle")).toMatchObject({ type: "directory" });
  });

  it("says which path is missing on archive errors, and which container is", async () => {
    const id = await create("archive-errors", { Cmd: ["true"] });
    const tar = await packTarToBuffer([{ path: "x", type: "file", content: "x" }]);
    const error = await docker.archive.put(id, "/no/such/dir", tar).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DockerApiError);
    expect((error as DockerApiError).status).toBe(404);
    expect((error as Error).message).toMatch(
      /^cannot copy into \/no\/such\/dir in container [0-9a-f]{12}: the path does not exist/,
    );
    expect((error as Error).message).not.toMatch(/no such container/i);

    await expect(docker.archive.get("pier-test-no-such-container", "/")).rejects.toThrow(
      /^container pier-test-no-such-container does not exist/,
    );
    await expect(docker.archive.stat("pier-test-no-such-container", "/")).rejects.toThrow(
      /^container pier-test-no-such-container does not exist/,
    );
  });

  it("resolves a network alias from a second container; connects with aliases; lists by label", async () => {
    const networkId = await docker.networks.create({
      Name: name("net"),
      Labels: LABELS,
      Attachable: true,
    });
    networks.add(networkId);
    const service = await create("svc", {
      Cmd: ["sleep", "300"],
      HostConfig: { NetworkMode: name("net") },
      NetworkingConfig: { EndpointsConfig: { [name("net")]: { Aliases: ["svc-alias"] } } },
    });
    await docker.containers.start(service);
    const late = await create("late", { Cmd: ["sleep", "300"] });
    await docker.networks.connect(networkId, late, { aliases: ["late-alias"] });
    await docker.containers.start(late);

    const probe = await runToEnd("probe", {
      Cmd: [
        "sh",
        "-c",
        "ping -c 1 -W 3 svc-alias >/dev/null && ping -c 1 -W 3 late-alias >/dev/null && echo reached",
      ],
      HostConfig: { NetworkMode: name("net") },
    });
    expect(probe).toMatchObject({ exitCode: 0, stdout: "reached\n" });

    const listed = await docker.networks.list({ labels: LABELS, filters: { name: [name("net")] } });
    expect(listed.map((network) => network.Id)).toEqual([networkId]);
    expect(listed[0]?.Labels).toMatchObject(LABELS);

    await docker.networks.disconnect(networkId, late, { force: true });
    const inspected = await docker.networks.inspect(networkId);
    expect(Object.keys(inspected.Containers ?? {})).toEqual([service]);
    await docker.containers.remove(service);
    await docker.containers.remove(probe.id);
    await docker.networks.remove(networkId);
    await expect(docker.networks.inspect(networkId)).rejects.toThrow(/does not exist/);
    await docker.networks.remove(networkId, { ignoreMissing: true });
  });

  it("creates, lists by label, mounts and removes volumes", async () => {
    const volume = await docker.volumes.create({ Name: name("vol"), Labels: LABELS });
    volumes.add(volume.Name);
    expect(volume.Labels).toMatchObject(LABELS);
    const writer = await runToEnd("vol-writer", {
      Cmd: ["sh", "-c", "echo kept > /data/file"],
      HostConfig: { Mounts: [{ Type: "volume", Source: volume.Name, Target: "/data" }] },
    });
    expect(writer.exitCode).toBe(0);
    const reader = await runToEnd("vol-reader", {
      Cmd: ["cat", "/data/file"],
      HostConfig: { Binds: [`${volume.Name}:/data:ro`] },
    });
    expect(reader).toMatchObject({ exitCode: 0, stdout: "kept\n" });

    const listed = await docker.volumes.list({ labels: { ...LABELS, "pier.managed": true } });
    expect(listed.map((v) => v.Name)).toContain(volume.Name);
    await expect(docker.volumes.remove(volume.Name)).rejects.toThrow(/still in use/);
    await docker.containers.remove(writer.id);
    await docker.containers.remove(reader.id);
    await docker.volumes.remove(volume.Name);
    await expect(docker.volumes.inspect(volume.Name)).rejects.toThrow(/does not exist/);
  });

  it("lists containers by label filters only", async () => {
    const marker = `m-${RUN_ID}`;
    const mine = await create("labelled", {
      Cmd: ["true"],
      Labels: { "pier.test-marker": marker },
    });
    const other = await create("other", { Cmd: ["true"], Labels: { "pier.test-marker": "other" } });
    const found = await docker.containers.list({
      labels: { ...LABELS, "pier.test-marker": marker },
    });
    expect(found.map((c) => c.Id)).toEqual([mine]);
    const both = await docker.containers.list({
      labels: { "pier.test-marker": true, "pier.test": "docker-client" },
    });
    expect(both.map((c) => c.Id).sort()).toEqual([mine, other].sort());
  });

  it("kills a long-running container", async () => {
    const id = await create("kill", { Cmd: ["sleep", "300"] });
    await docker.containers.start(id);
    const pending = await docker.containers.beginWait(id);
    const started = Date.now();
    await docker.containers.kill(id);
    const exit = await pending.exit;
    expect(exit.StatusCode).toBe(137);
    expect(Date.now() - started).toBeLessThan(10_000);
    // Killing what is not running is not an error (teardown is idempotent).
    await docker.containers.kill(id);
    await docker.containers.stop(id, { timeoutSeconds: 1 });
  });

  it("aborts a wait mid-way without touching the container", async () => {
    const id = await create("abort", { Cmd: ["sleep", "300"] });
    await docker.containers.start(id);
    const controller = new AbortController();
    const reason = new Error("cancelled by the test");
    setTimeout(() => controller.abort(reason), 200);
    const started = Date.now();
    await expect(docker.containers.wait(id, { signal: controller.signal })).rejects.toBe(reason);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect((await docker.containers.inspect(id)).State.Running).toBe(true);
    await expect(docker.containers.inspect(id, { signal: controller.signal })).rejects.toBe(reason);
    await docker.containers.remove(id);
    await docker.containers.remove(id, { ignoreMissing: true });
    await expect(docker.containers.inspect(id)).rejects.toThrow(/does not exist/);
  });

  it("aborts an attached run: streams and exit reject with the reason, the container lives on", async () => {
    const id = await create("abort-attached", { Cmd: ["sh", "-c", "echo started; sleep 300"] });
    const controller = new AbortController();
    const reason = new Error("job cancelled");
    const { streams, exit } = await docker.containers.startAttached(id, {
      signal: controller.signal,
    });
    const firstLine = await new Promise<string>((resolve) =>
      streams.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(firstLine).toBe("started\n");
    controller.abort(reason);
    await expect(exit).rejects.toBe(reason);
    await expect(readAll(streams.stdout)).rejects.toBe(reason);
    expect((await docker.containers.inspect(id)).State.Running).toBe(true);
    await docker.containers.kill(id);
  });

  it("fails a pull of a missing image with the registry's reason, fast", async () => {
    const started = Date.now();
    const error = await docker.images
      .pull(`pier-test-no-such-image-${RUN_ID}`)
      .catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(Error);
    expect(error instanceof DockerApiError || error instanceof DockerProgressError).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`^cannot pull pier-test-no-such-image-${RUN_ID}:latest: .+`),
    );
    // Offline, the registry cannot even be resolved: a network-level failure, as GitLab sees it.
    expect(classifyPullFailure((error as DockerApiError | DockerProgressError).engineMessage)).toBe(
      "unreachable",
    );
    console.info(`pull of a missing image failed after ${elapsed} ms: ${(error as Error).message}`);
    expect(elapsed).toBeLessThan(60_000);
  });

  it("inspects, tags, lists and removes images", async () => {
    const busybox = await docker.images.inspect(IMAGE);
    expect(busybox.Os).toBe("linux");
    expect(await docker.images.find(`pier-test-absent-${RUN_ID}:1`)).toBeUndefined();
    const tagged = `pier-test-docker-client/tagged:${RUN_ID}`;
    images.add(tagged);
    await docker.images.tag(IMAGE, tagged);
    const listed = await docker.images.list({ filters: { reference: [tagged] } });
    expect(listed.map((image) => image.Id)).toEqual([busybox.Id]);
    await docker.images.remove(tagged, { noPrune: true });
    expect(await docker.images.find(tagged)).toBeUndefined();
    expect((await docker.images.inspect(IMAGE)).Id).toBe(busybox.Id);
  });

  it("pushes to a registry with auth and progress, and pulls the image back", async () => {
    const registry = await create("registry", {
      Image: "registry:2",
      ExposedPorts: { "5000/tcp": {} },
      HostConfig: { PortBindings: { "5000/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] } },
    });
    await docker.containers.start(registry);
    const port = (await docker.containers.inspect(registry)).NetworkSettings.Ports?.[
      "5000/tcp"
    ]?.[0]?.HostPort;
    expect(port).toMatch(/^\d+$/);
    const target = `127.0.0.1:${port}/pier-test/busybox:${RUN_ID}`;
    images.add(target);
    await docker.images.tag(IMAGE, target);
    const auth = { username: "pier", password: "secret+/=", serveraddress: `127.0.0.1:${port}` };

    const pushProgress: string[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        await docker.images.push(target, {
          auth,
          onProgress: (line) => pushProgress.push(line.status ?? ""),
        });
        break;
      } catch (error) {
        // The registry needs a moment to listen after start, and dockerd may reuse a
        // connection the starting registry has just closed.
        const transient = /connection refused|EOF|reset|closed idle connection/i;
        if (attempt >= 20 || !transient.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    expect(pushProgress.some((status) => /Pushed|Layer already exists|digest/i.test(status))).toBe(
      true,
    );

    await docker.images.remove(target, { noPrune: true });
    const pullProgress: string[] = [];
    await docker.images.pull(target, {
      auth,
      onProgress: (line) => pullProgress.push(line.status ?? ""),
    });
    expect(pullProgress.join("\n")).toMatch(/Downloaded newer image|Image is up to date/);
    expect((await docker.images.inspect(target)).RepoTags).toContain(target);
  });

  it("streams events filtered by label until aborted", async () => {
    const controller = new AbortController();
    const marker = `e-${RUN_ID}`;
    const events = await docker.events.subscribe({
      labels: { "pier.test-marker": marker },
      filters: { type: ["container"] },
      signal: controller.signal,
    });
    const seen: DockerEvent[] = [];
    const collecting = (async () => {
      for await (const event of events) {
        seen.push(event);
        if (event.Action === "destroy") controller.abort(new Error("enough"));
      }
    })().then(
      () => "ended without abort",
      (error: unknown) => (error as Error).message,
    );
    const id = await create("events", { Cmd: ["true"], Labels: { "pier.test-marker": marker } });
    await docker.containers.remove(id);
    expect(await collecting).toBe("enough");
    expect(seen.map((event) => event.Action)).toEqual(["create", "destroy"]);
    expect(seen[0]?.Actor.Attributes["pier.test-marker"]).toBe(marker);
  });
});
