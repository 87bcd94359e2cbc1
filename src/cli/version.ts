import { readFileSync } from "node:fs";

// Replaced with the version by the bundler (npm run build); absent when running from sources.
declare const PIER_BUILD_VERSION: string | undefined;

let cached: string | undefined;

/** pier's version: inlined in the bundle, else read from package.json next to the sources. */
export function pierVersion(): string {
  if (typeof PIER_BUILD_VERSION === "string") return PIER_BUILD_VERSION;
  if (cached === undefined) {
    const url = new URL("../../package.json", import.meta.url);
    cached = (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  }
  return cached;
}
