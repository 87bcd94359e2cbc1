import { lstat, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { DockerClient } from "../docker/docker-client.ts";
import type { GcAction } from "./dead-owner-sweep.ts";
import { isInUse } from "./dead-owner-sweep.ts";
import { keptUseMark } from "./kept-use.ts";
import { KEEP_LABEL, MANAGED_LABEL } from "./owner-labels.ts";

/** What pier keeps across runs, with when it was last used and how big it is. */
interface KeptItem {
  kind: "volume" | "directory";
  name: string;
  what: string;
  lastUsed: number;
  /** Bytes; undefined when it cannot be measured from here. */
  size: number | undefined;
  remove(): Promise<void>;
}

export interface DiskPolicy {
  /** Remove kept things unused for longer than this (ms). */
  maxAgeMs?: number;
  /** Then remove the least recently used until the rest fits (bytes). */
  maxSizeBytes?: number;
}

/**
 * Bounds what pier keeps on purpose: `pier.keep` volumes (the registry's storage, DinD layer
 * caches, cache volumes) and the host caches under `<state>/cache`. First by age (last use),
 * then by total size, least recently used first. A volume a running container holds is left
 * alone (the engine refuses, and that is reported).
 */
export async function applyDiskPolicy(
  client: DockerClient,
  stateDir: string,
  policy: DiskPolicy,
  options: { dryRun?: boolean; labels?: Record<string, string>; now?: number } = {},
): Promise<{ actions: GcAction[]; keptBytes: number | undefined }> {
  const now = options.now ?? Date.now();
  const items = [
    ...(await keptVolumes(client, stateDir, options.labels)),
    ...(options.labels === undefined ? await hostCaches(stateDir) : []),
  ].sort((a, b) => a.lastUsed - b.lastUsed);

  const actions: GcAction[] = [];
  const removed = new Set<KeptItem>();
  const drop = async (item: KeptItem, reason: string): Promise<void> => {
    const action: GcAction = {
      kind: item.kind,
      name: item.name,
      reason: `${item.what}: ${reason}`,
    };
    actions.push(action);
    if (options.dryRun === true) {
      removed.add(item);
      return;
    }
    try {
      await item.remove();
      removed.add(item);
    } catch (error) {
      action.error = isInUse(error)
        ? "in use by a running container"
        : error instanceof Error
          ? error.message
          : String(error);
    }
  };

  if (policy.maxAgeMs !== undefined) {
    for (const item of items) {
      const age = now - item.lastUsed;
      if (age > policy.maxAgeMs) await drop(item, `unused for ${formatDays(age)}`);
    }
  }
  const sizeOf = (list: KeptItem[]): number | undefined =>
    list.some((item) => item.size === undefined)
      ? undefined
      : list.reduce((sum, item) => sum + (item.size ?? 0), 0);
  let remaining = items.filter((item) => !removed.has(item));
  if (policy.maxSizeBytes !== undefined) {
    let total = remaining.reduce((sum, item) => sum + (item.size ?? 0), 0);
    for (const item of remaining) {
      if (total <= policy.maxSizeBytes) break;
      if (item.size === undefined) continue;
      await drop(
        item,
        `over the size budget (${formatBytes(total)} > ${formatBytes(policy.maxSizeBytes)})`,
      );
      if (removed.has(item)) total -= item.size;
    }
    remaining = remaining.filter((item) => !removed.has(item));
  }
  return { actions, keptBytes: sizeOf(remaining) };
}

async function keptVolumes(
  client: DockerClient,
  stateDir: string,
  labels: Record<string, string> | undefined,
): Promise<KeptItem[]> {
  const volumes = await client.volumes.list({
    labels: { [MANAGED_LABEL]: "true", [KEEP_LABEL]: true, ...labels },
  });
  return Promise.all(
    volumes.map(async (volume): Promise<KeptItem> => {
      const created = volume.CreatedAt === undefined ? 0 : Date.parse(volume.CreatedAt);
      const mark = await mtimeOf(keptUseMark(stateDir, volume.Name));
      return {
        kind: "volume",
        name: volume.Name,
        what: volume.Labels?.[KEEP_LABEL] ?? "kept",
        lastUsed: mark ?? (Number.isNaN(created) ? 0 : created),
        size: await treeSize(volume.Mountpoint),
        remove: () => client.volumes.remove(volume.Name),
      };
    }),
  );
}

/** `<state>/cache/<project>/<key>/`: one item per cache key, last used = its archive's mtime. */
async function hostCaches(stateDir: string): Promise<KeptItem[]> {
  const root = join(stateDir, "cache");
  const items: KeptItem[] = [];
  for (const project of await readdir(root).catch(() => [])) {
    for (const key of await readdir(join(root, project)).catch(() => [])) {
      const dir = join(root, project, key);
      const lastUsed = (await mtimeOf(join(dir, "cache.zip"))) ?? (await mtimeOf(dir)) ?? 0;
      items.push({
        kind: "directory",
        name: dir,
        what: "cache",
        lastUsed,
        size: await treeSize(dir),
        remove: () => rm(dir, { recursive: true, force: true }),
      });
    }
  }
  return items;
}

/** Disk use of a tree (blocks), or undefined when it cannot be read from here (remote engine). */
async function treeSize(path: string): Promise<number | undefined> {
  try {
    const info = await lstat(path);
    if (!info.isDirectory()) return info.blocks * 512;
    let total = info.blocks * 512;
    for (const entry of await readdir(path)) {
      const size = await treeSize(join(path, entry));
      if (size === undefined) return undefined;
      total += size;
    }
    return total;
  } catch {
    return undefined;
  }
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

function formatDays(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 1 ? `${days.toFixed(1)} days` : `${(ms / 3_600_000).toFixed(1)} hours`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] ?? "B"}`;
}
