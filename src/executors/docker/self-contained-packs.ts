import { createHash, randomBytes } from "node:crypto";
import { constants, existsSync, readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";
import { runGit } from "../../storage/run-git.ts";
import { packsRoot } from "../../storage/state-dir.ts";

/** Packs kept: the most recently used ones, at most this many and this many bytes in all. */
const KEPT_PACKS = 16;
const KEPT_BYTES = 256 * 1024 * 1024;

/**
 * Local snapshots borrow the user's objects through git alternates, a host path the container
 * does not have, so each snapshot must hold the objects its checkout needs. Those depend only
 * on the commit and the shallow boundary, so the pack `git repack` makes for them is kept in
 * `<state>/packs/` (the most recently used ones, bounded) and later jobs, in this run or the
 * next, copy it (a reflink where the file system can) instead of running git.
 */
export class SelfContainedPacks {
  readonly #root: string;

  constructor(stateDir: string) {
    this.#root = packsRoot(stateDir);
  }

  /** Makes the repository at `projectDir` self-contained. */
  async apply(projectDir: string, signal: AbortSignal): Promise<void> {
    const gitDir = join(projectDir, ".git");
    const alternates = join(gitDir, "objects", "info", "alternates");
    if (!existsSync(alternates)) return;
    const packDir = join(gitDir, "objects", "pack");
    const key = objectsKey(gitDir);
    const kept = key === undefined ? undefined : join(this.#root, key);
    if (kept !== undefined && (await copyPacks(kept, packDir))) {
      await utimes(kept, new Date(), new Date()).catch(() => undefined);
    } else {
      await runGit(["repack", "-a", "-d", "-q"], { cwd: projectDir, signal });
      if (kept !== undefined) await this.#keep(packDir, kept).catch(() => undefined);
    }
    await rm(alternates, { force: true });
  }

  /** A copy of the pack folder under `kept`, made aside and renamed into place. */
  async #keep(packDir: string, kept: string): Promise<void> {
    await mkdir(this.#root, { recursive: true });
    const draft = await mkdtemp(join(this.#root, `.draft-${String(process.pid)}-`));
    try {
      if (!(await copyPacks(packDir, draft)) || (await totalBytes(draft)) > KEPT_BYTES / 4) return;
      await rename(draft, kept);
    } catch {
      // Another pier kept the same pack first.
    } finally {
      await rm(draft, { recursive: true, force: true });
    }
    await this.#bound();
  }

  /** Renamed aside first: a pier copying it meanwhile must never see half of it. */
  async #evict(path: string): Promise<void> {
    const aside = join(
      this.#root,
      `.evict-${String(process.pid)}-${randomBytes(6).toString("hex")}`,
    );
    try {
      await rename(path, aside);
    } catch {
      return;
    }
    await rm(aside, { recursive: true, force: true });
  }

  async #bound(): Promise<void> {
    const kept = [];
    for (const name of await readdir(this.#root)) {
      if (name.startsWith(".")) continue;
      const path = join(this.#root, name);
      kept.push({ path, used: (await stat(path)).mtimeMs, bytes: await totalBytes(path) });
    }
    kept.sort((a, b) => b.used - a.used);
    let bytes = 0;
    for (const [index, pack] of kept.entries()) {
      bytes += pack.bytes;
      if (index >= KEPT_PACKS || bytes > KEPT_BYTES) await this.#evict(pack.path);
    }
  }
}

/**
 * What a snapshot's objects are: its commit (a detached HEAD; its ref names the same commit)
 * and its shallow boundary. Undefined for anything else, which is packed afresh.
 */
function objectsKey(gitDir: string): string | undefined {
  const read = (name: string): string => {
    try {
      return readFileSync(join(gitDir, name), "utf8");
    } catch {
      return "";
    }
  };
  const head = read("HEAD");
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})\n?$/.test(head)) return undefined;
  return createHash("sha256")
    .update(`${head}\0${read("shallow")}`)
    .digest("hex")
    .slice(0, 32);
}

/**
 * Copies (reflinks where the file system can) every file of `from` into `to`; on failure what
 * was copied goes again, so git never sees half a pack.
 */
async function copyPacks(from: string, to: string): Promise<boolean> {
  const copied: string[] = [];
  try {
    const names = await readdir(from);
    if (!wholePacks(names)) return false;
    await mkdir(to, { recursive: true });
    for (const name of names) {
      copied.push(join(to, name));
      await copyFile(join(from, name), join(to, name), constants.COPYFILE_FICLONE);
    }
    return true;
  } catch {
    await Promise.all(copied.map((path) => rm(path, { force: true })));
    return false;
  }
}

/** At least one pack, and each with both its `.pack` and `.idx` files. */
function wholePacks(names: readonly string[]): boolean {
  const packs = names.filter((name) => /^pack-[0-9a-f]+\.pack$/.test(name));
  const indexes = names.filter((name) => /^pack-[0-9a-f]+\.idx$/.test(name));
  return (
    packs.length > 0 &&
    packs.length === indexes.length &&
    packs.every((pack) => names.includes(pack.replace(/\.pack$/, ".idx")))
  );
}

async function totalBytes(dir: string): Promise<number> {
  let sum = 0;
  for (const name of await readdir(dir)) sum += (await stat(join(dir, name))).size;
  return sum;
}
