import type { SlotLease } from "./concurrency-slots.ts";
import { removeAside } from "./remove-aside.ts";

/**
 * A finished job's slot lease and build folders, kept for the next job of the same run that
 * would lease the same slot: that job skips leasing and can use what is still as it was.
 * `state` is whatever the executor needs to decide that.
 */
export interface KeptBuild<State> {
  lease: SlotLease;
  /** Removed (moved to `trashDir`, deleted in the background) when the build is let go. */
  folders: readonly string[];
  trashDir: string;
  state: State;
}

const pools = new Set<KeptBuilds<unknown>>();

/**
 * Kept builds by key (what decides the build paths: state dir, project, ...). The slot stays
 * leased host-wide while a build is kept, so no other pier process gets its folders; whatever
 * is still kept when the run ends is removed and released by `releaseKeptBuilds`.
 */
export class KeptBuilds<State> {
  readonly #builds = new Map<string, Array<KeptBuild<State>>>();

  keep(key: string, build: KeptBuild<State>): void {
    pools.add(this);
    const builds = this.#builds.get(key) ?? [];
    builds.push(build);
    this.#builds.set(key, builds);
  }

  /** The build kept last under `key` (its slot's folders are the warmest), now the caller's. */
  take(key: string): KeptBuild<State> | undefined {
    const builds = this.#builds.get(key);
    const build = builds?.pop();
    if (builds?.length === 0) this.#builds.delete(key);
    return build;
  }

  async releaseAll(): Promise<void> {
    const builds = [...this.#builds.values()].flat();
    this.#builds.clear();
    pools.delete(this);
    await Promise.all(builds.map((build) => letGo(build)));
  }
}

/** Removes a build's folders and gives its slot back; never throws. */
export async function letGo(build: KeptBuild<unknown>): Promise<void> {
  for (const folder of build.folders) {
    await removeAside(folder, build.trashDir).catch(() => undefined);
  }
  await build.lease.release().catch(() => undefined);
}

/** At the end of a run: every kept build of every pool is removed and its slot released. */
export async function releaseKeptBuilds(): Promise<void> {
  await Promise.all([...pools].map((pool) => pool.releaseAll()));
}
