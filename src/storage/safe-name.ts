import { createHash } from "node:crypto";

/**
 * A name usable as one directory component, readable when it can be: names made only of
 * safe characters are kept; anything else is cleaned and suffixed with a short hash so two
 * different names never share a directory.
 */
export function safeDirComponent(name: string): string {
  if (/^[A-Za-z0-9._-]{1,100}$/.test(name) && !/^\.+$/.test(name)) return name;
  const cleaned = name
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, 60);
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  return `${cleaned}-${hash}`;
}
