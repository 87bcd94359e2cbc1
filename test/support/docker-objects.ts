import type { DockerClient } from "../../src/docker/docker-client.ts";

/** The containers, networks and volumes carrying all these labels, as sorted "KIND NAME" lines. */
export async function labelledDockerObjects(
  client: DockerClient,
  labels: Record<string, string>,
): Promise<string[]> {
  const [containers, networks, volumes] = await Promise.all([
    client.containers.list({ labels }),
    client.networks.list({ labels }),
    client.volumes.list({ labels }),
  ]);
  return [
    ...containers.map((c) => `container ${c.Names[0]?.slice(1) ?? c.Id}`),
    ...networks.map((n) => `network ${n.Name}`),
    ...volumes.map((v) => `volume ${v.Name}`),
  ].sort();
}
