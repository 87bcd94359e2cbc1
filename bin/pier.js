#!/usr/bin/env node
// The CLI is bundled by `npm run build` into one CommonJS file, dist/pier-<version>-<hash>.cjs, so that
// V8's compiled code for it can be cached between runs (see src/cli/compile-cache.ts).
import { join } from "node:path";
import {
  bundleCacheName,
  commandOf,
  compileCacheDir,
  findBundle,
  loadCachedBundle,
} from "../dist/cli/compile-cache.js";

const bundlePath = findBundle(join(import.meta.dirname, "../dist"));
const argv = process.argv.slice(2);
const bundle = loadCachedBundle(bundlePath, {
  cacheName: bundleCacheName(bundlePath),
  cacheDir: compileCacheDir(),
  command: commandOf(argv),
});
process.exitCode = await bundle.exports.main(argv);
// After the command: the cache then holds the functions it compiled lazily too.
bundle.saveCache();
