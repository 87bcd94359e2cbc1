import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerCreateConfig } from "../../src/docker/container-types.ts";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import {
  createRegistryHooks,
  type RegistryHooks,
} from "../../src/executors/docker/registry-hooks.ts";
import { readRegistrySettings } from "../../src/executors/docker/registry-settings.ts";
import type { JobSpec } from "../../src/job/spec.ts";
import { docker, DockerScope, requireDocker, waitUntil } from "./docker-helpers.ts";

function dindJobSpec(): JobSpec {
  return {
    id: 1,
    token: "t",
    allow_git_fetch: false,
    job_info: { name: "docker-build", stage: "build", project_id: 1, project_name: "Seed" },
    git_info: {
      repo_url: "",
      ref: "main",
      sha: "0".repeat(40),
      before_sha: "0".repeat(40),
      ref_type: "branch",
      refspecs: [],
      depth: 0,
    },
    runner_info: { timeout: 600 },
    variables: [
      {
        key: "CI_PROJECT_PATH",
        value: "Group/Seed-App",
        public: true,
        masked: false,
        file: false,
        raw: false,
      },
    ],
    steps: [],
    services: [{ name: "docker:19.03.13-dind", alias: "docker" }],
    artifacts: [],
    cache: [],
    dependencies: [],
  } as unknown as JobSpec;
}

describe("CI registry for DinD jobs", () => {
  const scope = new DockerScope("ci-registry");
  const testLabels = { "pier.test": "ci-registry" };
  const storageVolume = scope.name("storage");
  let client: DockerClient;
  let stateDir: string;
  let hooks: RegistryHooks | undefined;

  beforeAll(async () => {
    await requireDocker();
    client = await connectDocker();
    stateDir = await mkdtemp(join(tmpdir(), "pier-ci-registry-"));
  });

  afterAll(async () => {
    await hooks?.close();
    await scope.cleanup();
    await docker(["volume", "rm", "-f", storageVolume]);
    client.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("gives a DinD job a TLS registry it logs in to, pushes to and pulls from; removes it at the end", async () => {
    hooks = createRegistryHooks({
      client,
      stateDir,
      settings: readRegistrySettings({}),
      labels: testLabels,
      storageVolume,
    });
    const spec = dindJobSpec();
    const variables = new Map((await hooks.variables(spec)).map((v) => [v.key, v]));
    expect(variables.get("CI_REGISTRY")?.value).toBe("registry.pier.local");
    expect(variables.get("CI_REGISTRY_IMAGE")?.value).toBe("registry.pier.local/group/seed-app");
    expect(variables.get("CI_REGISTRY_USER")?.value).toBe("gitlab-ci-token");
    const password = variables.get("CI_REGISTRY_PASSWORD");
    expect(password?.masked).toBe(true);
    expect(password?.public).toBe(false);

    const networkName = await scope.network("job");
    const network = { id: (await client.networks.inspect(networkName)).Id, name: networkName };
    await hooks.networkReady(network, new AbortController().signal);

    const certs = await scope.volume("certs");
    const base: ContainerCreateConfig = {
      Image: "docker:19.03.13-dind",
      Env: ["DOCKER_TLS_CERTDIR=/certs", "DIND_KEY=ec"],
      Labels: { "pier.managed": "true", ...testLabels },
      HostConfig: {
        Privileged: true,
        NetworkMode: networkName,
        Mounts: [{ Type: "volume", Source: certs, Target: "/certs/client" }],
      },
      NetworkingConfig: { EndpointsConfig: { [networkName]: { Aliases: ["docker"] } } },
    };
    const config = await hooks.serviceConfig(spec.services[0]!, base, {
      id: 1,
      projectKey: "group/seed-app",
    });
    expect(config.HostConfig?.Mounts).toContainEqual(
      expect.objectContaining({
        Target: "/etc/docker/certs.d/registry.pier.local/ca.crt",
        Type: "bind",
      }),
    );
    expect(config.HostConfig?.Privileged).toBe(true);
    await scope.start("dind", [
      "--network",
      networkName,
      "--network-alias",
      "docker",
      "--privileged",
      "-e",
      "DOCKER_TLS_CERTDIR=/certs",
      "-e",
      "DIND_KEY=ec",
      "-v",
      `${certs}:/certs/client`,
      ...config
        .HostConfig!.Mounts!.filter((m) => m.Type === "bind")
        .flatMap((m) => ["--mount", `type=bind,src=${m.Source!},dst=${m.Target},readonly`]),
      "docker:19.03.13-dind",
    ]);

    const image = `${variables.get("CI_REGISTRY_IMAGE")!.value}:ci-1234`;
    const script = [
      "until docker info >/dev/null 2>&1; do sleep 0.2; done",
      'echo "$CI_REGISTRY_PASSWORD" | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY"',
      `docker pull alpine:3 && docker tag alpine:3 ${image} && docker push ${image}`,
      `docker rmi ${image} && docker pull ${image}`,
      'echo wrong | docker login -u "$CI_REGISTRY_USER" --password-stdin "$CI_REGISTRY" && exit 9 || echo "wrong password refused"',
    ].join(" && ");
    const env = ["CI_REGISTRY", "CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD"].flatMap((key) => [
      "-e",
      `${key}=${variables.get(key)!.value}`,
    ]);
    const result = await scope.run(
      "job",
      [
        "--network",
        networkName,
        "-v",
        `${certs}:/certs/client`,
        ...env,
        "docker:19.03.13",
        "sh",
        "-c",
        script,
      ],
      180_000,
    );
    expect(result.stderr + result.stdout).toContain("Login Succeeded");
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(result.stdout).toContain(
      "Downloaded newer image for registry.pier.local/group/seed-app:ci-1234",
    );
    expect(result.stdout).toContain("wrong password refused");

    const registryContainers = await client.containers.list({
      labels: { ...testLabels, "pier.role": "registry" },
    });
    expect(registryContainers).toHaveLength(1);
    // The executor's order: the registry leaves the job network before the network is removed.
    await hooks.jobFinished(network);
    await scope.cleanup();
    await hooks.close();
    await waitUntil(
      "registry container removed",
      async () =>
        (await client.containers.list({ labels: { ...testLabels, "pier.role": "registry" } }))
          .length === 0,
    );
    const storage = await client.volumes.inspect(storageVolume);
    expect(storage.Labels?.["pier.keep"]).toBe("registry");
  });

  it("starts nothing for a job that does not use the registry", async () => {
    const quiet = createRegistryHooks({
      client,
      stateDir,
      settings: readRegistrySettings({}),
      labels: testLabels,
      storageVolume,
    });
    const spec = { ...dindJobSpec(), services: [] };
    const variables = await quiet.variables(spec);
    expect(variables.map((v) => v.key)).toContain("CI_REGISTRY_PASSWORD");
    expect(
      await client.containers.list({ labels: { ...testLabels, "pier.role": "registry" } }),
    ).toHaveLength(0);
    await quiet.close();
  });
});
