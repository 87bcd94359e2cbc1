import { constants, existsSync, mkdtempSync, rmSync } from "node:fs";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { runGit } from "../../storage/run-git.ts";
import { makeScratchDirSync } from "../../storage/scratch-dirs.ts";

/**
 * Local snapshots borrow the user's objects through git alternates, a host path the container
 * does not have, so each snapshot must hold the objects its checkout needs. The first job of a
 * commit (and depth) packs them with `git repack`; the pack is kept, and later jobs of the run
 * copy it instead of running git. Kept packs live in a scratch folder of the state dir until
 * the process exits. Copies run off the main thread: a large repository's pack takes a while.
 */
export class SelfContainedPacks {
  readonly #stateDir: string;
  readonly #packs = new Map<string, Promise<string | undefined>>();
  #keepDir: string | undefined;

  constructor(stateDir: string) {
    this.#stateDir = stateDir;
  }

  /**
   * Makes the repository at `projectDir` self-contained. `key` names what its objects are
   * (repository, commit, depth): snapshots with the same key need the same objects.
   */
  async apply(projectDir: string, key: string, signal: AbortSignal): Promise<void> {
    const gitDir = join(projectDir, ".git");
    const alternates = join(gitDir, "objects", "info", "alternates");
    if (!existsSync(alternates)) return;
    const kept = this.#packs.get(key);
    if (kept !== undefined) {
      const dir = await kept;
      if (dir !== undefined && (await copyPacks(dir, join(gitDir, "objects", "pack")))) {
        rmSync(alternates, { force: true });
        return;
      }
    }
    const repacked = runGit(["repack", "-a", "-d", "-q"], { cwd: projectDir, signal });
    if (kept === undefined) {
      this.#packs.set(
        key,
        repacked.then(
          () => this.#keep(join(gitDir, "objects", "pack")),
          () => undefined,
        ),
      );
    }
    await repacked;
    await rm(alternates, { force: true });
  }

  /** A copy of the pack folder's files, or undefined when it cannot be made. */
  async #keep(packDir: string): Promise<string | undefined> {
    try {
      if (this.#keepDir === undefined) {
        const dir = makeScratchDirSync(this.#stateDir, "docker-packs");
        this.#keepDir = dir;
        process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
      }
      const dir = mkdtempSync(join(this.#keepDir, "pack-"));
      return (await copyPacks(packDir, dir)) ? dir : undefined;
    } catch {
      return undefined;
    }
  }
}

/** Copies (reflinks where the file system can) every file of `from` into `to`. */
async function copyPacks(from: string, to: string): Promise<boolean> {
  try {
    await mkdir(to, { recursive: true });
    for (const name of await readdir(from)) {
      await copyFile(join(from, name), join(to, name), constants.COPYFILE_FICLONE);
    }
    return true;
  } catch {
    return false;
  }
}
