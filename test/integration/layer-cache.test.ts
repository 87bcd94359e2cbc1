import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerCreateConfig } from "../../src/docker/container-types.ts";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { layerCacheVolumeName } from "../../src/executors/docker/layer-cache.ts";
import { createRegistryHooks } from "../../src/executors/docker/registry-hooks.ts";
import { readRegistrySettings } from "../../src/executors/docker/registry-settings.ts";
import type { JobService } from "../../src/job/spec.ts";
import { docker, requireDocker } from "./docker-helpers.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const testLabel = `layer-cache-${String(process.pid)}`;
const projectKey = `pier-test/layer-cache-${String(process.pid)}`;
const dind: JobService = { name: "docker:19.03.13-dind", alias: "docker" };

/** The seed example's Dockerfile and files, written inside the daemon's container. */
async function seedBuildScript(): Promise<string> {
  const files = [
    "Dockerfile",
    "bin/serve",
    "bin/migrate",
    "bin/test",
    "bin/database-url",
    "sql/001-notes.sql",
  ];
  const lines = ["set -e", "rm -rf /src && mkdir -p /src/bin /src/sql && cd /src"];
  for (const file of files) {
    const content = await readFile(join(repoRoot, "examples/seed", file), "utf8");
    lines.push(`cat > ${file} <<'PIER_EOF'\n${content}PIER_EOF`);
  }
  lines.push("chmod +x bin/*");
  return lines.join("\n");
}

describe("DinD layer cache", () => {
  let client: DockerClient;
  let stateDir: string;
  const containers: string[] = [];

  beforeAll(async () => {
    await requireDocker();
    client = await connectDocker();
    stateDir = await mkdtemp(join(tmpdir(), "pier-layer-cache-"));
  });

  afterAll(async () => {
    if (containers.length > 0) await docker(["rm", "-fv", ...containers]);
    const volumes = (
      await docker(["volume", "ls", "-q", "--filter", `label=pier.test=${testLabel}`])
    ).stdout
      .split("\n")
      .filter((line) => line !== "");
    if (volumes.length > 0) await docker(["volume", "rm", "-f", ...volumes]);
    client.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  /** A DinD service as the executor would create it (after the hooks), started and ready. */
  async function startDaemon(config: ContainerCreateConfig, name: string): Promise<string> {
    const created = await client.containers.create(config, {
      name: `pier-test-${testLabel}-${name}`,
    });
    containers.push(created.Id);
    await client.containers.start(created.Id);
    const ready = await client.exec.run(created.Id, {
      Cmd: [
        "sh",
        "-c",
        "for i in $(seq 300); do docker info >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1",
      ],
    });
    expect(ready.exitCode).toBe(0);
    return created.Id;
  }

  async function timedBuild(containerId: string): Promise<{ ms: number; output: string }> {
    const script = `${await seedBuildScript()}\ndocker build --pull -t seed-app:ci -f ./Dockerfile . 2>&1`;
    const started = performance.now();
    const result = await client.exec.run(containerId, { Cmd: ["sh", "-c", script] });
    const ms = performance.now() - started;
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    return { ms, output: result.stdout };
  }

  const baseConfig = (): ContainerCreateConfig => ({
    Image: dind.name,
    Env: ["DOCKER_TLS_CERTDIR=", "PIER_DIND_LAYER_CACHE=true"],
    Labels: { "pier.managed": "true", "pier.test": testLabel },
    HostConfig: { Privileged: true },
  });

  it("serves a later pipeline's build from cache, forgets the previous job's containers, and gives concurrent daemons their own volume", async () => {
    const settings = readRegistrySettings({ pier_registry: false });
    const options = {
      client,
      stateDir,
      settings,
      labels: { "pier.test": testLabel },
      startupSweep: false,
    };
    const job = { id: 1, projectKey };

    // Pipeline 1: the cache volume is empty, the build does everything.
    const first = createRegistryHooks(options);
    const config1 = await first.serviceConfig(dind, baseConfig(), job);
    expect(config1.HostConfig?.Mounts).toContainEqual(
      expect.objectContaining({
        Type: "volume",
        Source: layerCacheVolumeName(projectKey, 0),
        Target: "/var/lib/docker",
      }),
    );
    // A concurrent DinD job of the same project gets the next volume.
    const concurrent = await first.serviceConfig(dind, baseConfig(), { id: 2, projectKey });
    expect(concurrent.HostConfig?.Mounts).toContainEqual(
      expect.objectContaining({ Source: layerCacheVolumeName(projectKey, 1) }),
    );
    const daemon1 = await startDaemon(config1, "first");
    const cold = await timedBuild(daemon1);
    const leftovers = await client.exec.run(daemon1, {
      Cmd: [
        "sh",
        "-c",
        "docker network create app-net && docker run -d --network app-net --name postgres -e POSTGRES_PASSWORD=x postgres:11.7-alpine",
      ],
    });
    expect(leftovers.exitCode, leftovers.stderr).toBe(0);
    await client.containers.remove(daemon1, { force: true, volumes: true });
    await first.close();

    // Pipeline 2: same project, volume 0 again (the lease was given back).
    const second = createRegistryHooks(options);
    const config2 = await second.serviceConfig(dind, baseConfig(), job);
    expect(config2.HostConfig?.Mounts).toContainEqual(
      expect.objectContaining({ Source: layerCacheVolumeName(projectKey, 0) }),
    );
    const daemon2 = await startDaemon(config2, "second");
    const warm = await timedBuild(daemon2);
    expect(warm.output).toContain("Using cache");
    const fresh = await client.exec.run(daemon2, {
      Cmd: [
        "sh",
        "-c",
        "docker ps -aq | wc -l; docker network create app-net >/dev/null && echo created",
      ],
    });
    expect(fresh.stdout.trim().split("\n")).toEqual(["0", "created"]);
    await client.containers.remove(daemon2, { force: true, volumes: true });
    await second.close();

    // Without the cache: a DinD service as it comes (anonymous /var/lib/docker).
    const plain = baseConfig();
    plain.Env = ["DOCKER_TLS_CERTDIR="];
    const daemon3 = await startDaemon(plain, "uncached");
    const uncached = await timedBuild(daemon3);
    expect(uncached.output).not.toContain("Using cache");
    await client.containers.remove(daemon3, { force: true, volumes: true });

    const kept = await client.volumes.inspect(layerCacheVolumeName(projectKey, 0));
    expect(kept.Labels?.["pier.keep"]).toBe("dind-layer-cache");
    console.log(
      `seed Dockerfile build in DinD: first ${cold.ms.toFixed(0)} ms, later pipeline with the layer cache ${warm.ms.toFixed(0)} ms, without it ${uncached.ms.toFixed(0)} ms (${(uncached.ms / warm.ms).toFixed(1)}x)`,
    );
  });
});
