#!/usr/bin/env node
// dist/pier.cjs: the CLI bundled by `npm run build` into one CommonJS file, so that V8's compiled
// code for it can be cached between runs (see src/cli/compile-cache.ts).
import { compileCacheDir, loadCachedBundle } from "../dist/cli/compile-cache.js";
import { fileURLToPath } from "node:url";
import { pierVersion } from "../dist/cli/version.js";

const bundle = loadCachedBundle(fileURLToPath(new URL("../dist/pier.cjs", import.meta.url)), {
  version: pierVersion(),
  cacheDir: compileCacheDir(),
});
process.exitCode = await bundle.exports.main(process.argv.slice(2));
// After the command: the cache then holds the functions it compiled lazily too.
bundle.saveCache();
