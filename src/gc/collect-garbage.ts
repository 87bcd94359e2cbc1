import type { DockerClient } from "../docker/docker-client.ts";
import { sweepDeadOwners, type GcAction } from "./dead-owner-sweep.ts";
import { applyDiskPolicy, type DiskPolicy } from "./disk-policy.ts";
import { sweepStateDir } from "./state-sweep.ts";

export interface GcReport {
  actions: GcAction[];
  /** What pier keeps after this run, when it could be measured. */
  keptBytes: number | undefined;
}

/**
 * `pier gc`: Docker objects of dead pier processes, stale locks and build folders, then the
 * disk policy for what pier keeps. Without an engine (`client` undefined) only the state dir.
 */
export async function collectGarbage(o: {
  client: DockerClient | undefined;
  stateDir: string;
  policy: DiskPolicy;
  dryRun?: boolean;
}): Promise<GcReport> {
  const dryRun = o.dryRun === true;
  const actions: GcAction[] = [];
  if (o.client !== undefined) actions.push(...(await sweepDeadOwners(o.client, { dryRun })));
  actions.push(...(await sweepStateDir(o.stateDir, { dryRun })));
  if (o.client === undefined) return { actions, keptBytes: undefined };
  const disk = await applyDiskPolicy(o.client, o.stateDir, o.policy, { dryRun });
  actions.push(...disk.actions);
  return { actions, keptBytes: disk.keptBytes };
}

let background: Promise<void> | undefined;

/**
 * The sweep every Docker-executor start runs in the background: objects and locks of dead
 * pier processes only (no build folders, no disk policy). At most once per process; never
 * fails the run.
 */
export function sweepInBackground(client: DockerClient, stateDir: string): Promise<void> {
  // Build folders are left to an explicit `pier gc`: a starting pier must not race a neighbour
  // that is just taking a slot over.
  background ??= Promise.all([
    sweepDeadOwners(client),
    sweepStateDir(stateDir, { buildDirs: false }),
  ]).then(
    () => undefined,
    () => undefined,
  );
  return background;
}
