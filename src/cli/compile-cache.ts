import {
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Script } from "node:vm";
import { crc32 } from "node:zlib";

/** A CommonJS bundle compiled with V8's code cache; `saveCache` after the work is done. */
export interface CachedBundle {
  exports: Record<string, unknown>;
  /** Where the cache lives (undefined when turned off). */
  cacheFile: string | undefined;
  /** "hit" when V8 took the cached code, "miss" when there was none, "rejected" when it was unusable. */
  cacheState: "hit" | "miss" | "rejected" | "off";
  /** Writes the cache when there is none or it lacks this command's code. Never throws. */
  saveCache(): void;
}

export interface CompileCacheOptions {
  /** The cache file's name: it must change whenever the bundle or V8 does (see bundleCacheName). */
  cacheName: string;
  /** Folder for cache files; undefined turns the cache off. */
  cacheDir: string | undefined;
  /** What this run does (see commandOf): the cache is rewritten once for each new one. */
  command: string;
}

// V8 checks the cache against the source's length and V8's version and flags, not against its
// own bytes (only debug builds do): a header with a checksum keeps a damaged file from being used.
// Layout: magic, CRC-32 of the rest, length of the command list, the command list, V8's data.
const magic = Buffer.from("pierv8c2");
const crcOffset = magic.length;
const commandsLengthOffset = crcOffset + 4;
const commandsOffset = commandsLengthOffset + 2;
// Cache files of other versions and builds kept (for switching between installs).
const keptCacheFiles = 4;

interface CacheFile {
  /** The commands whose code the data holds. */
  commands: string[];
  data: Buffer;
}

/** The command of argv (`run`, `runner run`, … or `-` for none) for CompileCacheOptions. */
export function commandOf(argv: readonly string[]): string {
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const command = words[0] === "runner" ? words.slice(0, 2).join(" ") : (words[0] ?? "-");
  return /^[a-z -]{1,40}$/.test(command) ? command : "?";
}

/** $XDG_CACHE_HOME/pier/v8, or undefined when PIER_NO_COMPILE_CACHE is set. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env["PIER_NO_COMPILE_CACHE"]) return undefined;
  const base = env["XDG_CACHE_HOME"] || join(homedir(), ".cache");
  return join(base, "pier", "v8");
}

const bundleFileName = /^pier-(.+)-([A-Za-z0-9]+)\.cjs$/;

/**
 * The bundle in distDir: `npm run build` names it pier-<version>-<hash of its contents>.cjs and
 * then removes the older ones (the newest wins while a build is between the two).
 */
export function findBundle(distDir: string): string {
  const names = readdirSync(distDir).filter((name) => bundleFileName.test(name));
  if (names.length === 0)
    throw new Error(`${distDir} has no pier-<version>-<hash>.cjs: npm run build`);
  const newest = names
    .map((name) => ({ path: join(distDir, name), mtime: statSync(join(distDir, name)).mtimeMs }))
    .reduce((a, b) => (b.mtime > a.mtime ? b : a));
  return newest.path;
}

/**
 * `<version>-<hash>-v8-<V8 version>`: pier's version and the bundle's content hash come from its
 * name (computed by the bundler, so starting needs no hashing); V8 only takes its own caches.
 */
export function bundleCacheName(bundlePath: string): string {
  const match = bundleFileName.exec(basename(bundlePath));
  if (match === null) throw new Error(`${bundlePath} is not named pier-<version>-<hash>.cjs`);
  return `${match[1] ?? ""}-${match[2] ?? ""}-v8-${process.versions.v8}`;
}

/** Runs the CommonJS bundle at bundlePath, compiled from the cache in options.cacheDir if valid. */
export function loadCachedBundle(bundlePath: string, options: CompileCacheOptions): CachedBundle {
  const source = readFileSync(bundlePath, "utf8");
  const cacheFile =
    options.cacheDir === undefined ? undefined : join(options.cacheDir, options.cacheName);
  const cached = cacheFile === undefined ? undefined : readCache(cacheFile);
  // Strict like the ES module bundle it replaces; the parameters are the CommonJS module scope.
  const wrapped = `(function (exports, require, module, __filename, __dirname) {"use strict";${source}\n})`;
  const script = new Script(wrapped, {
    filename: bundlePath,
    ...(cached === undefined ? {} : { cachedData: cached.data }),
  });
  const rejected = cached !== undefined && script.cachedDataRejected === true;
  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath));
  const cacheState =
    cacheFile === undefined ? "off" : cached === undefined ? "miss" : rejected ? "rejected" : "hit";
  return {
    exports: module.exports,
    cacheFile,
    cacheState,
    saveCache() {
      if (cacheFile === undefined) return;
      const known = cacheState === "hit" ? (cached?.commands ?? []) : [];
      // Serializing costs about as much as it saves: only when this command's lazily compiled
      // functions are not in the cache yet (the new data holds the deserialized ones too).
      if (known.includes(options.command)) return;
      try {
        const commands = [...known, options.command];
        writeCache(cacheFile, { commands, data: script.createCachedData() }, cached === undefined);
      } catch {
        // A cache that cannot be written only costs the next start its compile time.
      }
    },
  };
}

function readCache(cacheFile: string): CacheFile | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (file.length <= commandsOffset || !file.subarray(0, magic.length).equals(magic)) {
    return undefined;
  }
  if (file.readUInt32BE(crcOffset) !== crc32(file.subarray(commandsLengthOffset))) return undefined;
  const dataOffset = commandsOffset + file.readUInt16BE(commandsLengthOffset);
  const commands = file.subarray(commandsOffset, dataOffset).toString("utf8").split("\n");
  return { commands, data: file.subarray(dataOffset) };
}

function writeCache(cacheFile: string, cache: CacheFile, isNew: boolean): void {
  const dir = dirname(cacheFile);
  mkdirSync(dir, { recursive: true });
  const commands = Buffer.from(cache.commands.join("\n"));
  const header = Buffer.alloc(commandsOffset);
  magic.copy(header);
  header.writeUInt16BE(commands.length, commandsLengthOffset);
  const file = Buffer.concat([header, commands, cache.data]);
  file.writeUInt32BE(crc32(file.subarray(commandsLengthOffset)), crcOffset);
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, file);
    renameSync(temporary, cacheFile);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  if (isNew) removeOldCaches(dir, basename(cacheFile));
}

/**
 * Each build makes a new cache file: keep the few most recently written ones, and remove what a
 * killed writer left (a temporary file an hour old is no one's).
 */
function removeOldCaches(dir: string, current: string): void {
  const files = readdirSync(dir)
    .filter((name) => name !== current)
    .map((name) => ({ name, mtime: statSync(join(dir, name)).mtimeMs }));
  const leftovers = files.filter(
    ({ name, mtime }) => name.endsWith(".tmp") && mtime < Date.now() - 3_600_000,
  );
  const others = files
    .filter(({ name }) => !name.endsWith(".tmp"))
    .sort((a, b) => b.mtime - a.mtime)
    .slice(keptCacheFiles - 1);
  for (const { name } of [...leftovers, ...others]) rmSync(join(dir, name), { force: true });
}
