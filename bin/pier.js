#!/usr/bin/env node
// The CLI is bundled by `npm run build` into one CommonJS file, dist/pier-<version>-<hash>.cjs, so that
// V8's compiled code for it can be cached between runs (see src/cli/compile-cache.ts). This file is
// CommonJS too (bin/package.json): an ES module entry costs every start Node's ESM loader.
"use strict";
const { join } = require("node:path");
const {
  bundleCacheName,
  commandOf,
  compileCacheDir,
  findBundle,
  loadCachedBundle,
} = require("../dist/compile-cache.cjs");

const bundlePath = findBundle(join(__dirname, "../dist"));
const argv = process.argv.slice(2);
const bundle = loadCachedBundle(bundlePath, {
  cacheName: bundleCacheName(bundlePath),
  cacheDir: compileCacheDir(),
  command: commandOf(argv),
});
void bundle.exports.main(argv).then((exitCode) => {
  process.exitCode = exitCode;
  // After the command: the cache then holds the functions it compiled lazily too.
  bundle.saveCache();
});
