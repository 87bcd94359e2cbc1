import type { DockerClient } from "../docker/docker-client.ts";
import { DockerApiError } from "../docker/docker-errors.ts";
import { isRunning } from "../storage/process-identity.ts";
import { KEEP_LABEL, MANAGED_LABEL, ownerOf } from "./owner-labels.ts";

export interface GcAction {
  kind: "container" | "network" | "volume" | "file" | "directory";
  name: string;
  reason: string;
  /** Set when the removal failed (the object stays). */
  error?: string;
}

export interface SweepOptions {
  dryRun?: boolean;
  /** Only objects that also carry these labels (tests). */
  labels?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * Removes every Docker object labelled `pier.managed` whose owning pier process is gone
 * (pid not running, or running but started at another time: a reused pid), except what pier
 * keeps on purpose (`pier.keep`). Objects that name no owner are never touched, nor objects of
 * a live pier. One label-filtered list call per object type.
 */
export async function sweepDeadOwners(
  client: DockerClient,
  options: SweepOptions = {},
): Promise<GcAction[]> {
  const { signal } = options;
  const labels = { [MANAGED_LABEL]: "true" as const, ...options.labels };
  const [containers, networks, volumes] = await Promise.all([
    client.containers.list({ labels, signal }),
    client.networks.list({ labels, signal }),
    client.volumes.list({ labels, signal }),
  ]);
  const liveness = new Map<string, Promise<boolean>>();
  const ownerGone = async (objectLabels: Record<string, string> | null): Promise<boolean> => {
    const owner = ownerOf(objectLabels);
    if (owner === undefined) return false;
    const key = `${String(owner.pid)}-${owner.start}`;
    let alive = liveness.get(key);
    if (alive === undefined) {
      alive = isRunning(owner);
      liveness.set(key, alive);
    }
    return !(await alive);
  };
  const reasonOf = (objectLabels: Record<string, string> | null): string =>
    `owner pier process ${ownerOf(objectLabels)?.pid ?? "?"} is gone`;

  const actions: GcAction[] = [];
  const act = async (action: GcAction, remove: () => Promise<void>): Promise<void> => {
    actions.push(action);
    if (options.dryRun === true) return;
    try {
      await remove();
    } catch (error) {
      action.error = error instanceof Error ? error.message : String(error);
    }
  };

  await Promise.all(
    containers.map(async (container) => {
      if (!(await ownerGone(container.Labels))) return;
      const name = container.Names[0]?.replace(/^\//, "") ?? container.Id.slice(0, 12);
      await act({ kind: "container", name, reason: reasonOf(container.Labels) }, () =>
        client.containers.remove(container.Id, { force: true, volumes: true, ignoreMissing: true }),
      );
    }),
  );
  await Promise.all(
    networks.map(async (network) => {
      if (!(await ownerGone(network.Labels))) return;
      await act(
        { kind: "network", name: network.Name, reason: reasonOf(network.Labels) },
        async () => {
          // A live pier's registry may still be joined to it; it only ever serves its own runs.
          const attached = await client.networks.inspect(network.Id, { signal });
          for (const id of Object.keys(attached.Containers ?? {})) {
            await client.networks
              .disconnect(network.Id, id, { force: true })
              .catch(() => undefined);
          }
          await client.networks.remove(network.Id, { ignoreMissing: true });
        },
      );
    }),
  );
  await Promise.all(
    volumes.map(async (volume) => {
      if (volume.Labels?.[KEEP_LABEL] !== undefined) return;
      if (!(await ownerGone(volume.Labels))) return;
      await act({ kind: "volume", name: volume.Name, reason: reasonOf(volume.Labels) }, () =>
        client.volumes.remove(volume.Name, { force: true, ignoreMissing: true }),
      );
    }),
  );
  return actions;
}

/** True for an engine error that says the object is in use (a live container holds it). */
export function isInUse(error: unknown): boolean {
  return error instanceof DockerApiError && error.status === 409;
}
