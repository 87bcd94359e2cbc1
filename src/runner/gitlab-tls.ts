import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { UsageError } from "../errors.ts";
import { deferredTrustContext, deferredTrustedCertificates } from "../extra-ca-certificates.ts";
import type { RunnerEntry } from "./config-toml.ts";

/** config.toml's `tls-ca-file`, `tls-cert-file` and `tls-key-file`. */
export interface GitLabTlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * What node:https needs to talk to a GitLab with a private CA or client certificates: one TLS
 * context, made once (a `ca` list would be parsed again for each connection). It trusts the
 * system's roots plus the configured CA (gitlab-runner adds it to the system pool), or without
 * one the default store (see deferredTrustedCertificates). Undefined: Node's default context.
 */
export interface GitLabTlsMaterial {
  secureContext?: SecureContext;
}

export function tlsFilesOf(entry: RunnerEntry): GitLabTlsFiles {
  return { caFile: entry.tlsCaFile, certFile: entry.tlsCertFile, keyFile: entry.tlsKeyFile };
}

function readPem(file: string, key: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`${key} = "${file}": ${(error as Error).message}`, { cause: error });
  }
}

/** Reads the files once; a certificate without its key (or the reverse) is a usage error. */
export function loadGitLabTls(files: GitLabTlsFiles): GitLabTlsMaterial {
  const hasCa = files.caFile !== undefined && files.caFile !== "";
  const hasCert = files.certFile !== undefined && files.certFile !== "";
  const hasKey = files.keyFile !== undefined && files.keyFile !== "";
  if (hasCert !== hasKey) {
    throw new UsageError("tls-cert-file and tls-key-file go together: set both or neither");
  }
  if (!hasCa && !hasCert) {
    const secureContext = deferredTrustContext();
    return secureContext === undefined ? {} : { secureContext };
  }
  const ca = hasCa
    ? [...rootCertificates, readPem(files.caFile as string, "tls-ca-file")]
    : deferredTrustedCertificates();
  const cert = hasCert ? readPem(files.certFile as string, "tls-cert-file") : undefined;
  const key = hasKey ? readPem(files.keyFile as string, "tls-key-file") : undefined;
  try {
    return {
      secureContext: createSecureContext({
        ...(ca !== undefined && { ca }),
        ...(cert !== undefined && { cert }),
        ...(key !== undefined && { key }),
      }),
    };
  } catch (error) {
    const named = [files.caFile, files.certFile, files.keyFile].filter(Boolean).join(", ");
    throw new UsageError(`TLS files ${named}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * git settings that make git trust a GitLab as the API client does, scoped to its URLs
 * (`http.<origin>/.sslCAInfo`, `.sslCert`, `.sslKey`): pier fetches sources with git on the host.
 */
export function gitTlsSettings(
  entries: readonly Pick<
    RunnerEntry,
    "url" | "cloneUrl" | "tlsCaFile" | "tlsCertFile" | "tlsKeyFile"
  >[],
): [string, string][] {
  const byOrigin = new Map<string, [string, string][]>();
  for (const entry of entries) {
    const settings: [string, string][] = [];
    if (entry.tlsCaFile) settings.push(["sslCAInfo", entry.tlsCaFile]);
    if (entry.tlsCertFile && entry.tlsKeyFile) {
      settings.push(["sslCert", entry.tlsCertFile], ["sslKey", entry.tlsKeyFile]);
    }
    if (settings.length === 0) continue;
    for (const url of [entry.url, entry.cloneUrl]) {
      const origin = httpsOrigin(url);
      if (origin !== undefined) byOrigin.set(origin, settings);
    }
  }
  return [...byOrigin].flatMap(([origin, settings]) =>
    settings.map(([name, value]): [string, string] => [`http.${origin}/.${name}`, value]),
  );
}

function httpsOrigin(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

const gitTlsEntries = new Map<string, Parameters<typeof gitTlsSettings>[0][number]>();
/** What the environment pier started with set: git config pier appends to, and `GIT_SSL_*`. */
let inherited: { configCount: number; sslEnvironment: Map<string, string> } | undefined;

/** `GIT_SSL_CAINFO` & co. beat any git config, even for one URL: they become the general setting. */
const SSL_ENVIRONMENT: Readonly<Record<string, string>> = {
  sslCAInfo: "GIT_SSL_CAINFO",
  sslCert: "GIT_SSL_CERT",
  sslKey: "GIT_SSL_KEY",
};

/**
 * Adds (or replaces, by runner token) an entry's TLS files to the git configuration every git
 * process of pier inherits (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`), after
 * whatever the environment pier started with already set.
 */
export function useGitLabTlsForGit(entry: RunnerEntry, env: NodeJS.ProcessEnv = process.env): void {
  gitTlsEntries.set(entry.token, entry);
  inherited ??= {
    configCount: Number(env["GIT_CONFIG_COUNT"] ?? 0) || 0,
    sslEnvironment: new Map(
      Object.values(SSL_ENVIRONMENT).flatMap((name) => {
        const value = env[name];
        return value === undefined || value === "" ? [] : [[name, value] as [string, string]];
      }),
    ),
  };
  const perUrl = gitTlsSettings([...gitTlsEntries.values()]);
  const general: [string, string][] = [];
  for (const [setting, name] of Object.entries(SSL_ENVIRONMENT)) {
    const value = inherited.sslEnvironment.get(name);
    if (value === undefined) continue;
    if (perUrl.some(([key]) => key.endsWith(`/.${setting}`))) {
      general.push([`http.${setting}`, value]);
      delete env[name];
    } else {
      env[name] = value;
    }
  }
  const settings = [...general, ...perUrl];
  const base = inherited.configCount;
  const previous = Number(env["GIT_CONFIG_COUNT"] ?? 0) || 0;
  for (let index = base + settings.length; index < previous; index += 1) {
    delete env[`GIT_CONFIG_KEY_${index}`];
    delete env[`GIT_CONFIG_VALUE_${index}`];
  }
  for (const [offset, [key, value]] of settings.entries()) {
    env[`GIT_CONFIG_KEY_${base + offset}`] = key;
    env[`GIT_CONFIG_VALUE_${base + offset}`] = value;
  }
  if (base + settings.length > 0) env["GIT_CONFIG_COUNT"] = String(base + settings.length);
}
