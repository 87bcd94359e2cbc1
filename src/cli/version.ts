import { readFileSync } from "node:fs";

let cached: string | undefined;

/** pier's version, read from package.json next to the sources or the build. */
export function pierVersion(): string {
  if (cached === undefined) {
    const url = new URL("../../package.json", import.meta.url);
    cached = (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  }
  return cached;
}
