import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JobVariable } from "../../job/spec.ts";
import { expandAtRuntime } from "../../job/runtime-expansion.ts";

/** Host variables a shell job sees by default; everything else of pier's environment stays out. */
export const DEFAULT_HOST_ENV_ALLOW_LIST: readonly string[] = [
  "PATH",
  "LANG",
  "LANGUAGE",
  "LC_*",
  "TZ",
  "USER",
  "LOGNAME",
  "SHELL",
  "DOCKER_HOST",
  "DOCKER_CERT_PATH",
  "DOCKER_TLS_VERIFY",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
  "NODE_EXTRA_CA_CERTS",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
];

function allowed(name: string, allowList: readonly string[]): boolean {
  return allowList.some((entry) =>
    entry.endsWith("*") ? name.startsWith(entry.slice(0, -1)) : name === entry,
  );
}

export function allowedHostEnv(
  hostEnv: NodeJS.ProcessEnv,
  allowList: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value !== undefined && allowed(name, allowList)) env[name] = value;
  }
  return env;
}

/**
 * The job's variables as the shell sees them: expanded once against each other (raw ones
 * kept literal, `$$` → `$`, unknown → empty), file variables written under `tmpDir` with the
 * variable holding the file's path. Later definitions of a key win, as in the runner.
 */
export async function resolveJobVariables(options: {
  variables: readonly JobVariable[];
  /** Runner and allowed host variables, visible to `$VAR` references. */
  base: Record<string, string>;
  tmpDir: string;
}): Promise<{ env: Record<string, string>; files: string[] }> {
  const latest = new Map<string, JobVariable>();
  for (const variable of options.variables) latest.set(variable.key, variable);
  const lookup = (name: string): string | undefined =>
    latest.get(name)?.value ?? options.base[name];

  const env: Record<string, string> = {};
  const files: string[] = [];
  for (const variable of latest.values()) {
    const value = variable.raw ? variable.value : expandAtRuntime(variable.value, lookup);
    if (variable.file) {
      await mkdir(options.tmpDir, { recursive: true });
      const path = join(options.tmpDir, variable.key);
      await writeFile(path, value, { mode: 0o600 });
      files.push(path);
      env[variable.key] = path;
    } else {
      env[variable.key] = value;
    }
  }
  return { env, files };
}
