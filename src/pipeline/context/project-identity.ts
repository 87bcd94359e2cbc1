import { basename } from "node:path";

export interface ProjectIdentity {
  /** `group/sub/project`. */
  path: string;
  namespace: string;
  name: string;
  /** Where the project would live on the GitLab server, e.g. `https://gitlab.com`. */
  serverUrl: string | undefined;
}

/** Namespace used for a repository without an `origin` remote. */
export const LOCAL_NAMESPACE = "local";

/**
 * The project's GitLab identity from its `origin` URL (`git@host:group/project.git`,
 * `ssh://git@host:2222/group/project.git`, `https://user@host/group/project`), else from the
 * folder name under the `local` namespace.
 */
export function projectIdentity(
  originUrl: string | undefined,
  projectDir: string,
): ProjectIdentity {
  const parsed = originUrl ? parseRemoteUrl(originUrl.trim()) : undefined;
  if (parsed && parsed.path.includes("/")) {
    const slash = parsed.path.lastIndexOf("/");
    return {
      path: parsed.path,
      namespace: parsed.path.slice(0, slash),
      name: parsed.path.slice(slash + 1),
      serverUrl: parsed.serverUrl,
    };
  }
  const name = basename(projectDir) || "project";
  return {
    path: `${LOCAL_NAMESPACE}/${name}`,
    namespace: LOCAL_NAMESPACE,
    name,
    serverUrl: undefined,
  };
}

function parseRemoteUrl(url: string): { path: string; serverUrl: string | undefined } | undefined {
  let host: string | undefined;
  let path: string;
  let protocol = "https";
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.+)$/.exec(url);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    if (parsed.protocol === "file:") return undefined;
    host = parsed.hostname;
    if (parsed.protocol === "http:") {
      protocol = "http";
      if (parsed.port) host += `:${parsed.port}`;
    } else if (parsed.protocol === "https:" && parsed.port) {
      host += `:${parsed.port}`;
    }
    path = decodeURIComponent(parsed.pathname);
  } else if (scp) {
    host = scp[1];
    path = scp[2] ?? "";
  } else {
    return undefined;
  }
  path = path.replace(/^\/+|\/+$/g, "").replace(/\.git$/, "");
  if (path === "") return undefined;
  return { path, serverUrl: host ? `${protocol}://${host}` : undefined };
}
