#!/usr/bin/env node
// dist/pier.js: the CLI bundled by `npm run build` (one module graph to load, not ~100 files).
import { main } from "../dist/pier.js";

process.exitCode = await main(process.argv.slice(2));
