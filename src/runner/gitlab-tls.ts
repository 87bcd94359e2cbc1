import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import { UsageError } from "../errors.ts";
import type { RunnerEntry } from "./config-toml.ts";

/** config.toml's `tls-ca-file`, `tls-cert-file` and `tls-key-file`. */
export interface GitLabTlsFiles {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

/** What node:https needs to talk to a GitLab with a private CA or client certificates. */
export interface GitLabTlsMaterial {
  /** The system's roots plus the configured CA (gitlab-runner adds it to the system pool). */
  ca?: string[];
  cert?: string;
  key?: string;
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
  const material: GitLabTlsMaterial = {};
  if (files.caFile !== undefined && files.caFile !== "") {
    material.ca = [...rootCertificates, readPem(files.caFile, "tls-ca-file")];
  }
  const hasCert = files.certFile !== undefined && files.certFile !== "";
  const hasKey = files.keyFile !== undefined && files.keyFile !== "";
  if (hasCert !== hasKey) {
    throw new UsageError("tls-cert-file and tls-key-file go together: set both or neither");
  }
  if (hasCert && hasKey) {
    material.cert = readPem(files.certFile as string, "tls-cert-file");
    material.key = readPem(files.keyFile as string, "tls-key-file");
  }
  return material;
}
