import type { JobService } from "../../job/spec.ts";

/** The image path without tag, digest or registry port: `host:5000/group/img:1@sha256:…` → `host/group/img`. */
function imagePath(name: string): string {
  let path = name.trim();
  const at = path.indexOf("@");
  if (at !== -1) path = path.slice(0, at);
  const slash = path.lastIndexOf("/");
  const colon = path.lastIndexOf(":");
  if (colon > slash) path = path.slice(0, colon);
  const [first, ...rest] = path.split("/");
  if (rest.length > 0 && first !== undefined) {
    path = [first.replace(/:\d+$/, ""), ...rest].join("/");
  }
  return path;
}

/**
 * The hostnames a service answers to, as gitlab-runner gives them: the image path with `/` as
 * `__` and as `-` (`postgres:15` → `postgres`, `docker:24-dind` → `docker`), then every alias
 * of `alias` (several may be separated by commas or spaces). No duplicates.
 */
export function serviceAliases(service: Pick<JobService, "name" | "alias">): string[] {
  const path = imagePath(service.name);
  const aliases = [path.replaceAll("/", "__"), path.replaceAll("/", "-")];
  for (const alias of (service.alias ?? "").split(/[\s,]+/)) {
    if (alias !== "") aliases.push(alias);
  }
  return [...new Set(aliases)];
}

/** A short, name-safe form of the image for container names: `docker:24-dind` → `docker`. */
export function serviceNamePart(name: string): string {
  return (
    imagePath(name)
      .replace(/[^a-zA-Z0-9_.-]+/g, "__")
      .slice(0, 40) || "service"
  );
}
