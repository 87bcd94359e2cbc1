#!/bin/sh
':' //; case "${NODE_OPTIONS-}" in *--use-openssl-ca*) ;; *) [ -z "${NODE_EXTRA_CA_CERTS-}" ] || { PIER_DEFERRED_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export PIER_DEFERRED_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS; } ;; esac; exec node "$0" "$@"
// The line above is for sh (the installed `pier` command runs this file as a shell script) and
// a string and a comment for Node. Node 20 parses NODE_EXTRA_CA_CERTS's file before it runs any
// JavaScript (about 90 ms on a small VM, at every start); pier reads it only when it makes a TLS
// connection (src/extra-ca-certificates.ts), and puts the variable back for what it starts.
// With --use-openssl-ca the file extends the system's store, which pier cannot rebuild: Node
// reads it then.

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

const deferredExtraCaCerts = process.env.PIER_DEFERRED_EXTRA_CA_CERTS;
if (deferredExtraCaCerts !== undefined) {
  delete process.env.PIER_DEFERRED_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = deferredExtraCaCerts;
  globalThis[Symbol.for("pier.deferredExtraCaCerts")] = deferredExtraCaCerts;
}
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
