import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  bundleCacheName,
  commandOf,
  compileCacheDir,
  findBundle,
  loadCachedBundle,
} from "../../src/cli/compile-cache.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), "pier-compile-cache-"));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A small CommonJS bundle; `tag` makes its source differ from other tests' (V8 shares code). */
function writeBundle(tag: string, hash = "TESTHASH"): string {
  const path = join(scratch, `pier-1.2.3-${hash}.cjs`);
  writeFileSync(
    path,
    `// ${tag}
     const { basename } = require("node:path");
     function double(n) { return n * 2; }
     module.exports.main = async (argv) => argv.map((arg) => double(Number(arg)));
     module.exports.fileName = basename(__filename);\n`,
  );
  return path;
}

function load(bundlePath: string, cacheDir: string | undefined, command = "run") {
  return loadCachedBundle(bundlePath, { cacheName: "test-cache", cacheDir, command });
}

async function runMain(exports: Record<string, unknown>): Promise<unknown> {
  return (exports["main"] as (argv: string[]) => Promise<unknown>)(["1", "2"]);
}

describe("loadCachedBundle", () => {
  it("writes the cache after the first run and uses it on the next", async () => {
    const bundle = writeBundle("reuse");
    const cacheDir = join(scratch, "cache", "v8");

    const first = load(bundle, cacheDir);
    expect(first.cacheState).toBe("miss");
    expect(await runMain(first.exports)).toEqual([2, 4]);
    expect(first.exports["fileName"]).toBe("pier-1.2.3-TESTHASH.cjs");
    expect(existsSync(join(cacheDir, "test-cache"))).toBe(false);
    first.saveCache();
    const written = readFileSync(join(cacheDir, "test-cache"));
    expect(written.subarray(0, 8).toString()).toBe("pierv8c2");

    const second = load(bundle, cacheDir);
    expect(second.cacheState).toBe("hit");
    expect(await runMain(second.exports)).toEqual([2, 4]);
    second.saveCache(); // the cache has this command's code: the file stays as it is
    expect(readFileSync(join(cacheDir, "test-cache")).equals(written)).toBe(true);
    expect(readdirSync(cacheDir)).toEqual(["test-cache"]);

    // Another command's code is added once.
    const third = load(bundle, cacheDir, "list");
    expect(third.cacheState).toBe("hit");
    third.saveCache();
    const withList = readFileSync(join(cacheDir, "test-cache"));
    expect(withList.equals(written)).toBe(false);
    expect(withList.includes("run\nlist")).toBe(true);
    const fourth = load(bundle, cacheDir, "list");
    expect(fourth.cacheState).toBe("hit");
    fourth.saveCache();
    expect(readFileSync(join(cacheDir, "test-cache")).equals(withList)).toBe(true);
  });

  it("ignores a damaged cache file and replaces it", async () => {
    const bundle = writeBundle("damaged");
    const cacheDir = join(scratch, "v8");
    load(bundle, cacheDir).saveCache();
    const cacheFile = join(cacheDir, "test-cache");
    const damaged = readFileSync(cacheFile);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] as number) ^ 0xff;
    writeFileSync(cacheFile, damaged);

    const afterDamage = load(bundle, cacheDir);
    expect(afterDamage.cacheState).toBe("miss");
    expect(await runMain(afterDamage.exports)).toEqual([2, 4]);
    afterDamage.saveCache();
    expect(load(bundle, cacheDir).cacheState).toBe("hit");

    writeFileSync(cacheFile, "not a cache");
    expect(load(bundle, cacheDir).cacheState).toBe("miss");
  });

  it("replaces a cache V8 rejects (made for other code)", async () => {
    const cacheDir = join(scratch, "v8");
    const other = writeBundle("other code, other length ...........", "OTHER");
    load(other, cacheDir).saveCache();
    const bundle = writeBundle("stale");

    const stale = load(bundle, cacheDir);
    expect(stale.cacheState).toBe("rejected");
    expect(await runMain(stale.exports)).toEqual([2, 4]);
    stale.saveCache();
    expect(load(bundle, cacheDir).cacheState).toBe("hit");
  });

  it("runs without a cache when the folder cannot be made", async () => {
    const notADir = join(scratch, "file");
    writeFileSync(notADir, "");
    const bundle = writeBundle("unwritable");
    const loaded = load(bundle, join(notADir, "v8"));
    expect(await runMain(loaded.exports)).toEqual([2, 4]);
    expect(() => loaded.saveCache()).not.toThrow();
  });

  it("keeps only the most recent cache files of other builds", () => {
    const cacheDir = join(scratch, "v8");
    const bundle = writeBundle("prune");
    load(bundle, cacheDir).saveCache();
    const names = ["old-1", "old-2", "old-3", "old-4", "old-5", "gone.1.tmp", "writing.2.tmp"];
    for (const [index, name] of names.entries()) {
      writeFileSync(join(cacheDir, name), "x");
      const time = new Date(Date.now() - (name === "gone.1.tmp" ? 7200 : 10 - index) * 60_000);
      spawnSync("touch", ["-d", time.toISOString(), join(cacheDir, name)]);
    }
    loadCachedBundle(bundle, { cacheName: "newer-build", cacheDir, command: "-" }).saveCache();
    expect(readdirSync(cacheDir).sort()).toEqual([
      "newer-build",
      "old-4",
      "old-5",
      "test-cache",
      "writing.2.tmp",
    ]);
  });

  it("is off without a cache folder", async () => {
    const loaded = load(writeBundle("off"), undefined);
    expect(loaded.cacheState).toBe("off");
    expect(loaded.cacheFile).toBeUndefined();
    expect(await runMain(loaded.exports)).toEqual([2, 4]);
    loaded.saveCache();
    expect(readdirSync(scratch)).toEqual(["pier-1.2.3-TESTHASH.cjs"]);
  });
});

describe("cache location and name", () => {
  it("lives in $XDG_CACHE_HOME/pier/v8 and PIER_NO_COMPILE_CACHE turns it off", () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" })).toBe("/x/cache/pier/v8");
    expect(compileCacheDir({ HOME: "/home/u" })).toMatch(/\/\.cache\/pier\/v8$/);
    expect(compileCacheDir({ XDG_CACHE_HOME: "/x", PIER_NO_COMPILE_CACHE: "1" })).toBeUndefined();
  });

  it("names the command a run does", () => {
    expect(commandOf(["--version"])).toBe("-");
    expect(commandOf(["run", "-C", "x", "build"])).toBe("run");
    expect(commandOf(["--debug", "runner", "run", "--config", "c.toml"])).toBe("runner run");
    expect(commandOf(["Bogus$"])).toBe("?");
  });

  it("is named by pier's version, the bundle's hash and V8's version", () => {
    const bundle = writeBundle("name", "AB12CD");
    expect(findBundle(scratch)).toBe(bundle);
    expect(bundleCacheName(bundle)).toBe(`1.2.3-AB12CD-v8-${process.versions.v8}`);
    const newer = writeBundle("newer build", "EF34");
    spawnSync("touch", ["-d", new Date(Date.now() - 60_000).toISOString(), bundle]);
    expect(findBundle(scratch)).toBe(newer);
    rmSync(bundle);
    rmSync(newer);
    expect(() => findBundle(scratch)).toThrow(/no pier-<version>-<hash>\.cjs/);
  });
});

describe("pier with the compile cache", () => {
  function pier(args: string[], env: Record<string, string>) {
    return spawnSync(process.execPath, [join(repoRoot, "bin/pier.js"), ...args], {
      encoding: "utf8",
      env: { ...process.env, PIER_NO_COMPILE_CACHE: "", ...env },
    });
  }

  it("writes the cache on the first run and reuses it", () => {
    const cacheHome = join(scratch, "cache");
    const first = pier(["--version"], { XDG_CACHE_HOME: cacheHome });
    expect(first.status).toBe(0);
    const cacheDir = join(cacheHome, "pier", "v8");
    const [name] = readdirSync(cacheDir);
    expect(name).toMatch(/^\d+\.\d+\.\d+.*-[A-Z0-9]+-v8-/);
    const cacheFile = join(cacheDir, name as string);
    const firstWrite = statSync(cacheFile).mtimeMs;

    const second = pier(["--version"], { XDG_CACHE_HOME: cacheHome });
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(statSync(cacheFile).mtimeMs).toBe(firstWrite);

    // A damaged cache: pier still works and writes a good one.
    writeFileSync(cacheFile, Buffer.concat([Buffer.from("pierv8c2"), Buffer.alloc(64, 1)]));
    const third = pier(["--version"], { XDG_CACHE_HOME: cacheHome });
    expect(third.status).toBe(0);
    expect(third.stdout).toBe(first.stdout);
    const rewritten = readFileSync(cacheFile);
    expect(rewritten.readUInt32BE(8)).toBe(crc32(rewritten.subarray(12)));
    expect(rewritten.length).toBeGreaterThan(1000);
  });

  it("works when the cache folder cannot be written, and when turned off", () => {
    const blocker = join(scratch, "not-a-dir");
    writeFileSync(blocker, "");
    const blocked = pier(["--version"], { XDG_CACHE_HOME: blocker });
    expect(blocked.status).toBe(0);
    expect(blocked.stderr).toBe("");
    expect(blocked.stdout).toMatch(/^\d+\.\d+\.\d+/);

    const cacheHome = join(scratch, "off");
    const off = pier(["--version"], { XDG_CACHE_HOME: cacheHome, PIER_NO_COMPILE_CACHE: "1" });
    expect(off.status).toBe(0);
    expect(existsSync(cacheHome)).toBe(false);
  });
});
