import { posix } from "node:path";
import type { ContainerHostConfig, ContainerMount } from "../../docker/container-types.ts";
import type { JobObjects } from "./job-objects.ts";

/** Where a bind (`source:target[:options]`) is mounted in the container. */
function bindTarget(bind: string): string | undefined {
  const parts = bind.split(":");
  return parts.length >= 2 ? parts[1] : undefined;
}

function covers(mountTarget: string, path: string): boolean {
  const target = posix.normalize(mountTarget).replace(/\/+$/, "");
  return target !== "" && (path === target || path.startsWith(`${target}/`));
}

/**
 * The volume the build tree goes into when an archive helper puts it there: none when a mount
 * of the job (the services' build volume, a configured volume) already holds `buildsDir`, else
 * an anonymous volume with the job's labels, which the engine removes with the job container.
 */
export function buildsVolumeFor(
  hostConfig: ContainerHostConfig,
  buildsDir: string,
  objects: JobObjects,
): ContainerMount | undefined {
  const targets = [
    ...(hostConfig.Mounts ?? []).map((mount) => mount.Target),
    ...(hostConfig.Binds ?? []).map(bindTarget).filter((target) => target !== undefined),
  ];
  if (targets.some((target) => covers(target, buildsDir))) return undefined;
  return {
    Type: "volume",
    Target: buildsDir,
    VolumeOptions: { Labels: objects.labelsFor("volume", { "pier.volume": "builds" }) },
  };
}

/**
 * A container that is never started, sharing the job container's volumes: an archive put into
 * it lands in the job's build volume while the engine is still starting the job container
 * (an archive call into the job container itself waits until its start is over).
 */
export async function createArchiveHelper(o: {
  objects: JobObjects;
  image: string;
  jobContainerId: string;
  signal: AbortSignal;
}): Promise<string> {
  return o.objects.createContainer(
    {
      Image: o.image,
      // Never run: any command will do, the image need not have one.
      Entrypoint: ["/pier-archive-helper"],
      Labels: o.objects.labelsFor("archive-helper"),
      NetworkDisabled: true,
      HostConfig: { VolumesFrom: [o.jobContainerId], NetworkMode: "none" },
    },
    `${o.objects.base}-archive`,
    o.signal,
  );
}
