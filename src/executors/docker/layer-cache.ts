import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ContainerCreateConfig, ContainerMount } from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import { markKeptUse } from "../../gc/kept-use.ts";
import { KEEP_LABEL, ownerLabels } from "../../gc/owner-labels.ts";
import { leaseSlots } from "../../storage/concurrency-slots.ts";

export const LAYER_CACHE_KEEP = "dind-layer-cache";
const DOCKER_DATA_ROOT = "/var/lib/docker";

/** A layer-cache volume held by one DinD daemon until `release()`. */
export interface LayerCacheLease {
  volume: string;
  release(): Promise<void>;
}

/** Where layer-cache leases live: `<state>/layer-cache/`. */
export function layerCacheRoot(stateDir: string): string {
  return join(stateDir, "layer-cache");
}

/** `pier-dind-cache-<project>-<n>`: a readable, engine-valid name, unique per project key. */
export function layerCacheVolumeName(projectKey: string, slot: number): string {
  const readable = projectKey
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 40);
  const hash = createHash("sha256").update(projectKey).digest("hex").slice(0, 8);
  return `pier-dind-cache-${readable === "" ? "" : `${readable}-`}${hash}-${String(slot)}`;
}

/**
 * Leases the project's lowest free layer-cache volume (host-wide lock files, like the
 * concurrency slots), so one volume only ever serves one daemon: two concurrent DinD jobs of a
 * project get volumes 0 and 1. The volume is created on first use and kept (`pier.keep`).
 */
export async function leaseLayerCache(o: {
  client: DockerClient;
  stateDir: string;
  projectKey: string;
  labels?: Record<string, string>;
  signal?: AbortSignal;
}): Promise<LayerCacheLease> {
  const slots = await leaseSlots({
    stateDir: layerCacheRoot(o.stateDir),
    projectKey: o.projectKey,
    ...(o.signal === undefined ? {} : { signal: o.signal }),
  });
  const volume = layerCacheVolumeName(o.projectKey, slots.projectConcurrentId);
  try {
    await o.client.volumes.create(
      {
        Name: volume,
        Labels: {
          ...ownerLabels(),
          ...o.labels,
          [KEEP_LABEL]: LAYER_CACHE_KEEP,
          "pier.project": o.projectKey.slice(0, 200),
        },
      },
      { signal: o.signal },
    );
    await markKeptUse(o.stateDir, volume);
  } catch (error) {
    await slots.release();
    throw error;
  }
  return { volume, release: () => slots.release() };
}

/**
 * Before dockerd starts on a reused data root, forget the previous job's containers, networks
 * and volumes (they would clash with names the next job creates, such as `app-net`) and keep
 * only images and build cache. Their writable layers go too, found through layerdb/mounts.
 */
const FORGET_PREVIOUS_JOB = `d=${DOCKER_DATA_ROOT}
for m in "$d"/image/*/layerdb/mounts/*; do
  [ -d "$m" ] || continue
  for f in mount-id init-id; do
    id=$(cat "$m/$f" 2>/dev/null) || continue
    case "$id" in ""|*/*|.*) continue ;; esac
    rm -rf "$d/overlay2/$id" "$d/vfs/dir/$id"
  done
  rm -rf "$m"
done
rm -rf "$d"/containers/* "$d"/volumes/* "$d"/network/files/local-kv.db
exec "$@"`;

/**
 * The DinD service with the leased volume as its data root, started through a short sh step
 * that clears the previous job's containers before the image's own entrypoint runs.
 */
export async function withLayerCache(
  client: DockerClient,
  config: ContainerCreateConfig,
  volume: string,
): Promise<ContainerCreateConfig> {
  const image = await client.images.inspect(config.Image);
  const entrypoint = config.Entrypoint ?? image.Config.Entrypoint ?? [];
  const cmd = config.Cmd ?? (config.Entrypoint === undefined ? (image.Config.Cmd ?? []) : []);
  const mounts: ContainerMount[] = (config.HostConfig?.Mounts ?? []).filter(
    (mount) => mount.Target !== DOCKER_DATA_ROOT,
  );
  mounts.push({ Type: "volume", Source: volume, Target: DOCKER_DATA_ROOT });
  return {
    ...config,
    Entrypoint: ["/bin/sh", "-c", FORGET_PREVIOUS_JOB, "pier-layer-cache", ...entrypoint],
    Cmd: cmd,
    HostConfig: { ...config.HostConfig, Mounts: mounts },
  };
}
