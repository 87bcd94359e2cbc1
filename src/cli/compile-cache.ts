import { isAscii } from "node:buffer";
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
  /** Where this command's cache lives (undefined when turned off). */
  cacheFile: string | undefined;
  /** "hit" when V8 took the cached code, "miss" when there was none, "rejected" when it was unusable. */
  cacheState: "hit" | "miss" | "rejected" | "off";
  /** Writes the cache unless V8 took it at the start. Never throws. */
  saveCache(): void;
}

export interface CompileCacheOptions {
  /** The build's cache folder name: it must change whenever the bundle or V8 does (see bundleCacheName). */
  cacheName: string;
  /** Folder for cache folders; undefined turns the cache off. */
  cacheDir: string | undefined;
  /** What this run does (see commandOf): each command has its own cache file. */
  command: string;
}

/**
 * The start of the CommonJS module function the build wraps the bundle in (package.json's build
 * script has the same text as esbuild's banner): the file's text is then the script itself, which
 * V8 compiles without a concatenated copy. A bundle without it is wrapped here.
 */
export const moduleWrapperStart =
  "(function (exports, require, module, __filename, __dirname) {'use strict';";

// V8 checks the cache against the source's length and V8's version and flags, not against its
// own bytes (only debug builds do): a header with a checksum keeps a damaged file from being used.
// Layout: magic, CRC-32 of V8's data, V8's data.
const magic = Buffer.from("pierv8c3");
const crcOffset = magic.length;
const dataOffset = crcOffset + 4;
// Cache folders of other versions and builds kept (for switching between installs).
const keptBuilds = 4;
// Each command word has a file: a bound for the mistyped ones.
const keptCommandFiles = 24;

/**
 * The command of argv (`run`, `runner run`, … `-` for none, `?` for odd words), for
 * CompileCacheOptions. `run`'s code differs by executor: an --executor flag is part of it.
 */
export function commandOf(argv: readonly string[]): string {
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const command = words[0] === "runner" ? words.slice(0, 2).join(" ") : (words[0] ?? "-");
  if (!/^[a-z -]{1,40}$/.test(command)) return "?";
  const executor = command === "run" ? executorFlag(argv) : undefined;
  return executor !== undefined && /^[a-z]{1,20}$/.test(executor)
    ? `run --executor ${executor}`
    : command;
}

function executorFlag(argv: readonly string[]): string | undefined {
  let value: string | undefined;
  for (const [index, arg] of argv.entries()) {
    if (arg === "--") break;
    if (arg === "--executor") value = argv[index + 1];
    else if (arg.startsWith("--executor=")) value = arg.slice("--executor=".length);
  }
  return value;
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

/** The file of a command's cache in its build's folder: `runner run` → runner-run.v8. */
export function commandCacheFileName(command: string): string {
  const name = command === "-" ? "no-command" : command === "?" ? "other" : command;
  return `${name.replace(/[^a-z]+/g, "-")}.v8`;
}

/** Runs the CommonJS bundle at bundlePath, compiled from the cache in options.cacheDir if valid. */
export function loadCachedBundle(bundlePath: string, options: CompileCacheOptions): CachedBundle {
  const source = readSource(bundlePath);
  const cacheFile =
    options.cacheDir === undefined
      ? undefined
      : join(options.cacheDir, options.cacheName, commandCacheFileName(options.command));
  const cachedData = cacheFile === undefined ? undefined : readCache(cacheFile);
  // Strict like the ES module bundle it replaces; the parameters are the CommonJS module scope.
  const wrapped = source.startsWith(moduleWrapperStart)
    ? source
    : `${moduleWrapperStart}${source}\n})`;
  const script = new Script(wrapped, {
    filename: bundlePath,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const rejected = cachedData !== undefined && script.cachedDataRejected === true;
  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(
    module.exports,
    lazyBuiltins(createRequire(bundlePath)),
    module,
    bundlePath,
    dirname(bundlePath),
  );
  const cacheState =
    cacheFile === undefined
      ? "off"
      : cachedData === undefined
        ? "miss"
        : rejected
          ? "rejected"
          : "hit";
  return {
    exports: module.exports,
    cacheFile,
    cacheState,
    saveCache() {
      // Serializing costs about as much as it saves: once per command (after it ran, so that
      // the functions it compiled lazily are in it too).
      if (cacheFile === undefined || cacheState === "hit") return;
      try {
        writeCache(cacheFile, script.createCachedData());
      } catch {
        // A cache that cannot be written only costs the next start its compile time.
      }
    },
  };
}

// Node's modules that take milliseconds to load and that some commands never use (`pier list`:
// no child processes, no hashing, no HTTP), or use only once the work has started. Only modules
// whose exports are plain objects: a stand-in cannot be called (assert, events and stream can).
const lazyModules = new Set(
  [
    "child_process",
    "crypto",
    "dgram",
    "dns",
    "fs/promises",
    "http",
    "http2",
    "https",
    "net",
    "perf_hooks",
    "readline",
    "readline/promises",
    "stream/promises",
    "tls",
    "worker_threads",
  ].flatMap((name) => [name, `node:${name}`]),
);

/**
 * The bundle's `require`, which hands out the lazyModules as stand-ins that load the module when
 * first used. The bundle requires Node's modules when its own modules are initialised (esbuild
 * keeps `require("node:crypto")` where the import was, and calls `crypto_module.createHash(…)`),
 * so without this every module a command's code might use is loaded before the command starts.
 */
export function lazyBuiltins(load: NodeJS.Require): NodeJS.Require {
  const standIns = new Map<string, object>();
  const lazyRequire = (id: string): unknown => {
    if (!lazyModules.has(id)) return load(id);
    let standIn = standIns.get(id);
    if (standIn === undefined) {
      standIn = lazyModule(() => load(id) as object);
      standIns.set(id, standIn);
    }
    return standIn;
  };
  return Object.assign(lazyRequire, load);
}

/** An object that behaves as what load returns, calling load when it is first looked into. */
function lazyModule(load: () => object): object {
  let loaded: object | undefined;
  const real = (): object => (loaded ??= load());
  // The target stays empty and extensible: any property may be reported (a Proxy invariant),
  // as configurable.
  return new Proxy(
    {},
    {
      get: (_, key) => Reflect.get(real(), key) as unknown,
      set: (_, key, value) => Reflect.set(real(), key, value),
      has: (_, key) => Reflect.has(real(), key),
      ownKeys: () => Reflect.ownKeys(real()),
      getOwnPropertyDescriptor: (_, key) => {
        const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
        return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
      },
      defineProperty: (_, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
      deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
      getPrototypeOf: () => Reflect.getPrototypeOf(real()),
    },
  );
}

/**
 * The bundle's text. esbuild writes ASCII (non-ASCII characters escaped, except in regular
 * expression literals): Latin-1 then reads the same text without UTF-8 decoding, and Node keeps
 * a text this large outside V8's heap instead of copying it in.
 */
function readSource(bundlePath: string): string {
  const bytes = readFileSync(bundlePath);
  return bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
}

function readCache(cacheFile: string): Buffer | undefined {
  let file: Buffer;
  try {
    file = readFileSync(cacheFile);
  } catch {
    return undefined;
  }
  if (file.length <= dataOffset || !file.subarray(0, magic.length).equals(magic)) return undefined;
  const data = file.subarray(dataOffset);
  return file.readUInt32BE(crcOffset) === crc32(data) ? data : undefined;
}

function writeCache(cacheFile: string, data: Buffer): void {
  const buildDir = dirname(cacheFile);
  const newBuild = mkdirSync(buildDir, { recursive: true }) !== undefined;
  const header = Buffer.alloc(dataOffset);
  magic.copy(header);
  header.writeUInt32BE(crc32(data), crcOffset);
  const temporary = `${cacheFile}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, Buffer.concat([header, data]));
    renameSync(temporary, cacheFile);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
  removeOldFiles(buildDir, basename(cacheFile), keptCommandFiles);
  if (newBuild) removeOldFiles(dirname(buildDir), basename(buildDir), keptBuilds);
}

/**
 * Keeps the `kept` most recently written entries of dir (the current one among them), and removes
 * what a killed writer left (a temporary file an hour old is no one's). In the cache folder the
 * entries are the builds' folders (and files of older pier versions), in a build's folder its
 * command files.
 */
function removeOldFiles(dir: string, current: string, kept: number): void {
  const entries = readdirSync(dir)
    .filter((name) => name !== current)
    .map((name) => ({ name, mtime: statSync(join(dir, name)).mtimeMs }));
  const leftovers = entries.filter(
    ({ name, mtime }) => name.endsWith(".tmp") && mtime < Date.now() - 3_600_000,
  );
  const others = entries
    .filter(({ name }) => !name.endsWith(".tmp"))
    .sort((a, b) => b.mtime - a.mtime)
    .slice(kept - 1);
  for (const { name } of [...leftovers, ...others]) {
    rmSync(join(dir, name), { recursive: true, force: true });
  }
}
