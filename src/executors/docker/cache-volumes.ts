import { createHash } from "node:crypto";
import type { ContainerMount } from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import { markKeptUse } from "../../gc/kept-use.ts";
import { KEEP_LABEL, ownerLabels } from "../../gc/owner-labels.ts";

/** The `pier.keep` value of the volumes behind `volumes = ["/path"]` (bounded by `pier gc`). */
export const CACHE_VOLUME_KEEP = "cache";

/** `/cache` and the like: entries of `volumes` without a host part. */
export function cacheVolumePaths(volumes: readonly string[]): string[] {
  return volumes.filter((entry) => !entry.includes(":"));
}

/** The digest that tells a project's cache volumes apart by container path. */
export function pathDigest(path: string): string {
  return createHash("md5").update(path).digest("hex").slice(0, 12);
}

/**
 * `pier-cache-<project>-<key>-concurrent-<n>-<path digest>`, after gitlab-runner's
 * `runner-<token>-project-<id>-concurrent-<n>-cache-<md5(path)>`: one volume per project, slot
 * and path, so jobs of a project that run one after another share it and concurrent ones do not.
 */
export function cacheVolumeName(o: {
  projectPath: string;
  projectKey: string;
  slot: number;
  path: string;
}): string {
  const readable = o.projectPath
    .replace(/[^a-zA-Z0-9_.-]+/g, "-")
    .replace(/^[^a-zA-Z0-9]+/, "")
    .slice(0, 40);
  const project = readable === "" ? o.projectKey : `${readable}-${o.projectKey}`;
  return `pier-cache-${project}-concurrent-${String(o.slot)}-${pathDigest(o.path)}`;
}

/**
 * Creates (or finds: creating an existing volume is a no-op) the persistent volumes of the
 * `"/path"` entries of `volumes` and marks them used now, for `pier gc --max-age`. They carry
 * `pier.keep=cache`, so neither job cleanup nor the dead-owner sweep removes them.
 */
export async function persistentCacheMounts(o: {
  docker: DockerClient;
  paths: readonly string[];
  stateDir: string;
  projectPath: string;
  projectKey: string;
  slot: number;
  labels?: Record<string, string>;
  signal: AbortSignal;
}): Promise<ContainerMount[]> {
  return Promise.all(
    o.paths.map(async (path) => {
      const name = cacheVolumeName({ ...o, path });
      await o.docker.volumes.create(
        {
          Name: name,
          Labels: {
            ...ownerLabels(),
            ...o.labels,
            [KEEP_LABEL]: CACHE_VOLUME_KEEP,
            "pier.project": o.projectKey,
            "pier.volume": path.slice(0, 200),
          },
        },
        { signal: o.signal },
      );
      await markKeptUse(o.stateDir, name);
      return { Type: "volume" as const, Source: name, Target: path };
    }),
  );
}
