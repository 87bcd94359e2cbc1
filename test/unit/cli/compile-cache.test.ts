import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import type * as nodeCrypto from "node:crypto";
import type * as nodeHttp from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { crc32 } from "node:zlib";
import { build } from "esbuild";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  bundleCacheName,
  commandCacheFileName,
  commandOf,
  compileCacheDir,
  findBundle,
  lazyBuiltins,
  loadCachedBundle,
  moduleWrapperStart,
} from "../../../src/cli/compile-cache.ts";

const repoRoot = resolve(import.meta.dirname, "../../..");

let scratch: string;
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), "pier-compile-cache-"));
});
afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * A small bundle as the build writes it (wrapped in the module function) or, with wrapped false,
 * bare; `tag` makes its source differ from other tests' (V8 shares compiled code in a process).
 */
function writeBundle(tag: string, options: { hash?: string; wrapped?: boolean } = {}): string {
  const path = join(scratch, `pier-1.2.3-${options.hash ?? "TESTHASH"}.cjs`);
  const body = `// ${tag}
     const { basename } = require("node:path");
     function double(n) { return n * 2; }
     module.exports.main = async (argv) => argv.map((arg) => double(Number(arg)));
     module.exports.fileName = basename(__filename);
     module.exports.strict = (function () { return this === undefined; })();
     module.exports.micro = /µs/.test("1µs") ? "µ" : "";\n`;
  writeFileSync(path, options.wrapped === false ? body : `${moduleWrapperStart}${body}})`);
  return path;
}

function load(bundlePath: string, cacheDir: string | undefined, command = "run") {
  return loadCachedBundle(bundlePath, { cacheName: "build-1", cacheDir, command });
}

async function runMain(exports: Record<string, unknown>): Promise<unknown> {
  return (exports["main"] as (argv: string[]) => Promise<unknown>)(["1", "2"]);
}

describe("loadCachedBundle", () => {
  it("writes a command's cache after its first run and uses it on the next", async () => {
    const bundle = writeBundle("reuse");
    const cacheDir = join(scratch, "cache", "v8");
    const runCache = join(cacheDir, "build-1", "run.v8");

    const first = load(bundle, cacheDir);
    expect(first.cacheState).toBe("miss");
    expect(first.cacheFile).toBe(runCache);
    expect(await runMain(first.exports)).toEqual([2, 4]);
    expect(first.exports["fileName"]).toBe("pier-1.2.3-TESTHASH.cjs");
    expect(existsSync(runCache)).toBe(false);
    first.saveCache();
    const written = readFileSync(runCache);
    expect(written.subarray(0, 8).toString()).toBe("pierv8c3");
    expect(written.readUInt32BE(8)).toBe(crc32(written.subarray(12)));

    const second = load(bundle, cacheDir);
    expect(second.cacheState).toBe("hit");
    expect(await runMain(second.exports)).toEqual([2, 4]);
    second.saveCache(); // V8 took it: the file stays as it is
    expect(readFileSync(runCache).equals(written)).toBe(true);

    // Another command has a file of its own.
    const list = load(bundle, cacheDir, "list");
    expect(list.cacheState).toBe("miss");
    list.saveCache();
    expect(readdirSync(join(cacheDir, "build-1")).sort()).toEqual(["list.v8", "run.v8"]);
    expect(load(bundle, cacheDir, "list").cacheState).toBe("hit");
    expect(readFileSync(runCache).equals(written)).toBe(true);
  });

  it("runs a bundle strict, wrapped by the build or not, and reads its UTF-8 text", async () => {
    for (const wrapped of [true, false]) {
      const loaded = load(writeBundle(`wrapped ${String(wrapped)}`, { wrapped }), undefined);
      expect(await runMain(loaded.exports)).toEqual([2, 4]);
      expect(loaded.exports["strict"]).toBe(true);
      expect(loaded.exports["micro"]).toBe("µ");
    }
  });

  it("ignores a damaged cache file and replaces it", async () => {
    const bundle = writeBundle("damaged");
    const cacheDir = join(scratch, "v8");
    load(bundle, cacheDir).saveCache();
    const cacheFile = join(cacheDir, "build-1", "run.v8");
    const damaged = readFileSync(cacheFile);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] as number) ^ 0xff;
    writeFileSync(cacheFile, damaged);

    const afterDamage = load(bundle, cacheDir);
    expect(afterDamage.cacheState).toBe("miss");
    expect(await runMain(afterDamage.exports)).toEqual([2, 4]);
    afterDamage.saveCache();
    expect(load(bundle, cacheDir).cacheState).toBe("hit");

    for (const content of ["not a cache", "pierv8c2 an older layout", ""]) {
      writeFileSync(cacheFile, content);
      expect(load(bundle, cacheDir).cacheState).toBe("miss");
    }
  });

  it("replaces a cache V8 rejects (made for other code)", async () => {
    const cacheDir = join(scratch, "v8");
    const other = writeBundle("other code, other length ...........", { hash: "OTHER" });
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
    const loaded = load(writeBundle("unwritable"), join(notADir, "v8"));
    expect(await runMain(loaded.exports)).toEqual([2, 4]);
    expect(() => loaded.saveCache()).not.toThrow();
  });

  it("keeps the most recent builds' caches and removes what killed writers left", () => {
    const cacheDir = join(scratch, "v8");
    mkdirSync(cacheDir, { recursive: true });
    const bundle = writeBundle("prune");
    const age = (path: string, minutes: number) =>
      spawnSync("touch", ["-d", new Date(Date.now() - minutes * 60_000).toISOString(), path]);
    // Older builds' folders, a file of pier's previous layout, a dead writer's file.
    for (const [index, name] of ["old-1", "old-2", "old-3", "old-4"].entries()) {
      mkdirSync(join(cacheDir, name));
      writeFileSync(join(cacheDir, name, "run.v8"), "x");
      age(join(cacheDir, name), 20 - index);
    }
    writeFileSync(join(cacheDir, "0.0.9-ABC-v8-1"), "x");
    age(join(cacheDir, "0.0.9-ABC-v8-1"), 30);
    writeFileSync(join(cacheDir, "gone.1.tmp"), "x");
    age(join(cacheDir, "gone.1.tmp"), 120);
    writeFileSync(join(cacheDir, "writing.2.tmp"), "x");

    load(bundle, cacheDir).saveCache();
    expect(readdirSync(cacheDir).sort()).toEqual([
      "build-1",
      "old-2",
      "old-3",
      "old-4",
      "writing.2.tmp",
    ]);
    // A second command of the same build removes nothing.
    load(bundle, cacheDir, "list").saveCache();
    expect(readdirSync(cacheDir)).toHaveLength(5);
  });

  it("bounds the files of one build (mistyped commands each make one)", () => {
    const cacheDir = join(scratch, "v8");
    const buildDir = join(cacheDir, "build-1");
    mkdirSync(buildDir, { recursive: true });
    for (let index = 0; index < 30; index += 1) {
      const file = join(buildDir, `typo-${String(index)}.v8`);
      writeFileSync(file, "x");
      spawnSync("touch", ["-d", new Date(Date.now() - (60 - index) * 60_000).toISOString(), file]);
    }
    load(writeBundle("bounded"), cacheDir, "run").saveCache();
    const names = readdirSync(buildDir);
    expect(names).toHaveLength(24);
    expect(names).toContain("run.v8");
    expect(names).toContain("typo-29.v8");
    expect(names).not.toContain("typo-6.v8");
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

describe("lazyBuiltins", () => {
  function countingRequire() {
    const real = createRequire(import.meta.url);
    const loads: string[] = [];
    const counted = Object.assign((id: string): unknown => {
      loads.push(id);
      return real(id);
    }, real) as NodeJS.Require;
    return { require: lazyBuiltins(counted), loads };
  }

  it("loads a heavy module of Node's when it is first used, and it works as the module", () => {
    const { require, loads } = countingRequire();
    const crypto = require("node:crypto") as typeof nodeCrypto;
    expect(require("node:crypto")).toBe(crypto);
    expect(loads).toEqual([]);
    expect(crypto.createHash("sha1").update("pier").digest("hex")).toBe(
      "dd6f68210b117c4dc26ec1f124066a9380a75187",
    );
    expect(loads).toEqual(["node:crypto"]);
    expect("randomBytes" in crypto).toBe(true);
    const realCrypto = createRequire(import.meta.url)("crypto") as typeof nodeCrypto;
    expect(Object.keys(crypto)).toEqual(Object.keys(realCrypto));
    expect(loads).toEqual(["node:crypto"]);
  });

  it("gives esbuild's namespace import of a module all its properties", () => {
    const { require } = countingRequire();
    const http = require("http") as typeof nodeHttp;
    // What esbuild's __toESM does with `import * as http from "node:http"`.
    const copy: Record<string, unknown> = {};
    for (const key of Object.getOwnPropertyNames(http)) {
      const descriptor = Object.getOwnPropertyDescriptor(http, key);
      Object.defineProperty(copy, key, { get: () => http[key as keyof typeof http] });
      expect(descriptor).toBeDefined();
    }
    const realHttp = createRequire(import.meta.url)("http") as typeof nodeHttp;
    expect(copy["STATUS_CODES"]).toBe(realHttp.STATUS_CODES);
  });

  it("hands out other modules as they are, callable ones among them", () => {
    const { require, loads } = countingRequire();
    const real = createRequire(import.meta.url);
    expect(require("node:path")).toBe(real("node:path"));
    expect(require("assert")).toBe(real("assert"));
    expect(require("node:events")).toBe(real("node:events"));
    expect(loads).toEqual(["node:path", "assert", "node:events"]);
    expect(require.resolve("node:path")).toBe("node:path");
  });
});

describe("cache location and name", () => {
  it("lives in $XDG_CACHE_HOME/pier/v8 and PIER_NO_COMPILE_CACHE turns it off", () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" })).toBe("/x/cache/pier/v8");
    expect(compileCacheDir({ HOME: "/home/u" })).toMatch(/\/\.cache\/pier\/v8$/);
    expect(compileCacheDir({ XDG_CACHE_HOME: "/x", PIER_NO_COMPILE_CACHE: "1" })).toBeUndefined();
  });

  it("names the command a run does, with run's executor flag", () => {
    expect(commandOf(["--version"])).toBe("-");
    expect(commandOf(["run", "-C", "x", "build"])).toBe("run");
    expect(commandOf(["run", "--executor", "docker", "--plain"])).toBe("run --executor docker");
    expect(commandOf(["run", "--executor=shell"])).toBe("run --executor shell");
    expect(commandOf(["run", "--executor", "Bad$"])).toBe("run");
    expect(commandOf(["--debug", "runner", "run", "--config", "c.toml"])).toBe("runner run");
    expect(commandOf(["Bogus$"])).toBe("?");
  });

  it("gives each command a file name", () => {
    expect(commandCacheFileName("run")).toBe("run.v8");
    expect(commandCacheFileName("run --executor docker")).toBe("run-executor-docker.v8");
    expect(commandCacheFileName("runner run")).toBe("runner-run.v8");
    expect(commandCacheFileName("-")).toBe("no-command.v8");
    expect(commandCacheFileName("?")).toBe("other.v8");
  });

  it("is named by pier's version, the bundle's hash and V8's version", () => {
    const bundle = writeBundle("name", { hash: "AB12CD" });
    expect(findBundle(scratch)).toBe(bundle);
    expect(bundleCacheName(bundle)).toBe(`1.2.3-AB12CD-v8-${process.versions.v8}`);
    const newer = writeBundle("newer build", { hash: "EF34" });
    spawnSync("touch", ["-d", new Date(Date.now() - 60_000).toISOString(), bundle]);
    expect(findBundle(scratch)).toBe(newer);
    rmSync(bundle);
    rmSync(newer);
    expect(() => findBundle(scratch)).toThrow(/no pier-<version>-<hash>\.cjs/);
  });
});

describe("bin/pier.js with the compile cache", () => {
  /** An install of bin/pier.js with compile-cache.ts built as `npm run build` does, and a bundle. */
  async function install(): Promise<string> {
    const root = join(scratch, "install");
    mkdirSync(join(root, "bin"), { recursive: true });
    for (const name of ["pier.js", "package.json"]) {
      copyFileSync(join(repoRoot, "bin", name), join(root, "bin", name));
    }
    await build({
      entryPoints: [join(repoRoot, "src/cli/compile-cache.ts")],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      minify: true,
      outfile: join(root, "dist", "compile-cache.cjs"),
      logLevel: "warning",
    });
    writeFileSync(
      join(root, "dist", "pier-1.2.3-INSTALL.cjs"),
      `${moduleWrapperStart}
       module.exports.main = async (argv) => {
         process.stdout.write(argv.join(" ") + "\\n");
         return argv.includes("fail") ? 3 : 0;
       };\n})`,
    );
    return root;
  }

  function pier(root: string, args: string[], env: Record<string, string>) {
    return spawnSync(process.execPath, [join(root, "bin", "pier.js"), ...args], {
      encoding: "utf8",
      env: { ...process.env, PIER_NO_COMPILE_CACHE: "", ...env },
    });
  }

  it("writes each command's cache on its first run, reuses it and survives damage", async () => {
    const root = await install();
    const cacheHome = join(scratch, "cache");
    const first = pier(root, ["--version"], { XDG_CACHE_HOME: cacheHome });
    expect(first.status).toBe(0);
    expect(first.stdout).toBe("--version\n");
    const [buildName] = readdirSync(join(cacheHome, "pier", "v8"));
    expect(buildName).toBe(`1.2.3-INSTALL-v8-${process.versions.v8}`);
    const buildDir = join(cacheHome, "pier", "v8", buildName as string);
    const cacheFile = join(buildDir, "no-command.v8");
    const firstWrite = statSync(cacheFile).mtimeMs;

    expect(pier(root, ["--version"], { XDG_CACHE_HOME: cacheHome }).stdout).toBe("--version\n");
    expect(statSync(cacheFile).mtimeMs).toBe(firstWrite);

    const failing = pier(root, ["run", "--executor", "docker", "fail"], {
      XDG_CACHE_HOME: cacheHome,
    });
    expect(failing.status).toBe(3);
    expect(readdirSync(buildDir).sort()).toEqual(["no-command.v8", "run-executor-docker.v8"]);

    writeFileSync(cacheFile, Buffer.concat([Buffer.from("pierv8c3"), Buffer.alloc(64, 1)]));
    const afterDamage = pier(root, ["--version"], { XDG_CACHE_HOME: cacheHome });
    expect(afterDamage.status).toBe(0);
    expect(afterDamage.stdout).toBe("--version\n");
    const rewritten = readFileSync(cacheFile);
    expect(rewritten.readUInt32BE(8)).toBe(crc32(rewritten.subarray(12)));
    expect(rewritten.length).toBeGreaterThan(100);
  });

  it("works when the cache folder cannot be written, and when turned off", async () => {
    const root = await install();
    const blocker = join(scratch, "not-a-dir");
    writeFileSync(blocker, "");
    const blocked = pier(root, ["list"], { XDG_CACHE_HOME: blocker });
    expect(blocked.status).toBe(0);
    expect(blocked.stderr).toBe("");
    expect(blocked.stdout).toBe("list\n");

    const cacheHome = join(scratch, "off");
    const off = pier(root, ["list"], { XDG_CACHE_HOME: cacheHome, PIER_NO_COMPILE_CACHE: "1" });
    expect(off.status).toBe(0);
    expect(existsSync(cacheHome)).toBe(false);
  });
});
