import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { currentProcess } from "../../src/storage/process-identity.ts";
import { labelledDockerObjects } from "../support/docker-objects.ts";
import { docker, requireDocker } from "./docker-helpers.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const testLabel = `gc-${String(process.pid)}`;

/**
 * A stand-in pier process: creates a container, a network and a volume labelled as its own
 * (plus a kept volume), prints "ready", then waits to be killed.
 */
function startOwner(name: string): Promise<{ child: ChildProcess; pid: number }> {
  const code = `
    import { connectDocker } from ${JSON.stringify(join(repoRoot, "src/docker/docker-client.ts"))};
    import { ownerLabels } from ${JSON.stringify(join(repoRoot, "src/gc/owner-labels.ts"))};
    const client = await connectDocker();
    const labels = { ...ownerLabels(), "pier.test": ${JSON.stringify(testLabel)}, "pier.gc-owner": ${JSON.stringify(name)} };
    const base = "pier-test-gc-" + ${JSON.stringify(name)} + "-" + process.pid;
    const network = await client.networks.create({ Name: base + "-net", Labels: labels });
    await client.volumes.create({ Name: base + "-vol", Labels: labels });
    await client.volumes.create({ Name: base + "-kept", Labels: { ...labels, "pier.keep": "test-cache" } });
    const created = await client.containers.create(
      { Image: "busybox:latest", Cmd: ["sleep", "600"], Labels: labels, HostConfig: { NetworkMode: base + "-net", Mounts: [{ Type: "volume", Source: base + "-vol", Target: "/data" }] } },
      { name: base + "-job" },
    );
    await client.containers.start(created.Id);
    process.stdout.write("ready\\n");
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolvePromise, reject) => {
    child.once("exit", (exitCode) => reject(new Error(`owner ${name} exited ${String(exitCode)}`)));
    child.stdout.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolvePromise({ child, pid: child.pid! });
    });
  });
}

function runPier(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "--input-type=module",
      "-e",
      `import { main } from ${JSON.stringify(join(repoRoot, "src/cli/main.ts"))}; process.exitCode = await main(process.argv.slice(1));`,
      ...args,
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolvePromise) => {
    child.on("exit", (code) => resolvePromise({ code: code ?? -1, stdout, stderr }));
  });
}

function objectsOf(client: DockerClient, owner: string): Promise<string[]> {
  return labelledDockerObjects(client, { "pier.test": testLabel, "pier.gc-owner": owner });
}

describe("pier gc", () => {
  let client: DockerClient;
  let stateDir: string;
  const owners: ChildProcess[] = [];

  beforeAll(async () => {
    await requireDocker();
    client = await connectDocker();
    stateDir = await mkdtemp(join(tmpdir(), "pier-gc-"));
  });

  afterAll(async () => {
    for (const child of owners) child.kill("SIGKILL");
    const labels = ["--filter", `label=pier.test=${testLabel}`];
    const ids = async (args: string[]): Promise<string[]> =>
      (await docker(args)).stdout.split("\n").filter((line) => line !== "");
    const containers = await ids(["ps", "-aq", ...labels]);
    if (containers.length > 0) await docker(["rm", "-fv", ...containers]);
    const networks = await ids(["network", "ls", "-q", ...labels]);
    if (networks.length > 0) await docker(["network", "rm", ...networks]);
    const volumes = await ids(["volume", "ls", "-q", ...labels]);
    if (volumes.length > 0) await docker(["volume", "rm", "-f", ...volumes]);
    client.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("removes what a killed pier left, keeps a live pier's objects, kept volumes and unowned objects", async () => {
    const dead = await startOwner("dead");
    owners.push(dead.child);
    const live = await startOwner("live");
    owners.push(live.child);
    const deadObjects = await objectsOf(client, "dead");
    expect(deadObjects).toHaveLength(4);
    expect(await objectsOf(client, "live")).toHaveLength(4);

    // A pid that runs again but is another process (same pid, other start time): gone.
    const reused = `pier-test-gc-reused-${String(process.pid)}`;
    await client.volumes.create({
      Name: reused,
      Labels: {
        "pier.managed": "true",
        "pier.owner": `${String(live.pid)}-1`,
        "pier.test": testLabel,
        "pier.gc-owner": "reused",
      },
    });
    // Labelled pier.managed but naming no owner: never touched.
    const unowned = `pier-test-gc-unowned-${String(process.pid)}`;
    await client.volumes.create({
      Name: unowned,
      Labels: { "pier.managed": "true", "pier.test": testLabel, "pier.gc-owner": "unowned" },
    });

    dead.child.kill("SIGKILL");
    await new Promise((resolvePromise) => dead.child.once("exit", resolvePromise));
    expect(await objectsOf(client, "dead")).toEqual(deadObjects);

    // Stale state: a lock of the dead process, a lock of this (live) process, a build dir.
    const locks = join(stateDir, "pier", "locks", "concurrent");
    await mkdir(locks, { recursive: true });
    await writeFile(
      join(locks, "0.lock"),
      JSON.stringify({ pid: dead.pid, start: "1", nonce: "a" }),
    );
    await writeFile(join(locks, "1.lock"), JSON.stringify({ ...currentProcess(), nonce: "b" }));
    await mkdir(join(stateDir, "pier", "builds", "0", "project", "0"), { recursive: true });
    const old = new Date(Date.now() - 3_600_000);
    const { utimes } = await import("node:fs/promises");
    await utimes(join(stateDir, "pier", "builds", "0"), old, old);

    const env = { XDG_STATE_HOME: stateDir };
    const dry = await runPier(["gc", "--dry-run", "--max-age", "never"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      `would remove container pier-test-gc-dead-${String(dead.pid)}-job`,
    );
    expect(await objectsOf(client, "dead")).toEqual(deadObjects);

    const gc = await runPier(["gc", "--max-age", "never"], env);
    expect(gc.code, gc.stderr + gc.stdout).toBe(0);
    expect(gc.stdout).toContain(`removed network pier-test-gc-dead-${String(dead.pid)}-net`);
    expect(await objectsOf(client, "dead")).toEqual([
      `volume pier-test-gc-dead-${String(dead.pid)}-kept`,
    ]);
    expect(await objectsOf(client, "live")).toHaveLength(4);
    expect(await objectsOf(client, "reused")).toEqual([]);
    expect(await objectsOf(client, "unowned")).toEqual([`volume ${unowned}`]);
    expect((await readdir(locks)).sort()).toEqual(["1.lock"]);
    expect(await readdir(join(stateDir, "pier", "builds"))).toEqual([]);
  });

  it("bounds kept volumes by age: --max-age removes the ones unused for longer", async () => {
    const name = `pier-test-gc-aged-${String(process.pid)}`;
    await client.volumes.create({
      Name: name,
      Labels: {
        "pier.managed": "true",
        "pier.keep": "test-cache",
        "pier.test": testLabel,
        "pier.gc-owner": "aged",
      },
    });
    const { markKeptUse, keptUseMark } = await import("../../src/gc/kept-use.ts");
    await markKeptUse(join(stateDir, "pier"), name);
    const { utimes } = await import("node:fs/promises");
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    await utimes(keptUseMark(join(stateDir, "pier"), name), tenDaysAgo, tenDaysAgo);
    const { applyDiskPolicy } = await import("../../src/gc/disk-policy.ts");
    const labels = { "pier.test": testLabel, "pier.gc-owner": "aged" };
    const kept = await applyDiskPolicy(
      client,
      join(stateDir, "pier"),
      { maxAgeMs: 30 * 86_400_000 },
      { labels },
    );
    expect(kept.actions).toEqual([]);
    // The volume's creation date is now, but its last use (the mark) is ten days ago.
    const removed = await applyDiskPolicy(
      client,
      join(stateDir, "pier"),
      { maxAgeMs: 7 * 86_400_000 },
      { labels },
    );
    expect(removed.actions.map((a) => a.name)).toEqual([name]);
    expect(await objectsOf(client, "aged")).toEqual([]);
  });
});
