import { existsSync } from "node:fs";
import { UsageError } from "../../errors.ts";

/** The CI registry and DinD settings pier reads from `[runners.docker]` (pier_* keys). */
export interface RegistrySettings {
  /** An external registry (`host[:port]`) instead of the one pier manages; no scheme. */
  externalUrl?: string;
  username?: string;
  password?: string;
  /** The external registry's CA, mounted into DinD services' certs.d. */
  caFile?: string;
  /** The image of the managed registry (default registry:2). */
  image?: string;
  /** The managed registry's storage volume (default pier-registry-storage). */
  storageVolume?: string;
  /** false: no CI registry at all (no CI_REGISTRY_PASSWORD, nothing started). */
  enabled: boolean;
  /** Give `docker:*-dind` services a persistent per-project /var/lib/docker. */
  dindLayerCache: boolean;
}

function text(docker: Record<string, unknown>, key: string): string | undefined {
  const value = docker[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new UsageError(`[runners.docker] ${key} must be a non-empty string`);
  }
  return value.trim();
}

function flag(docker: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = docker[key];
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw new UsageError(`[runners.docker] ${key} must be true or false`);
  return value;
}

/**
 * ```toml
 * [runners.docker]
 *   pier_registry = true                     # false: no CI registry
 *   pier_registry_image = "registry:2"       # the managed registry's image
 *   pier_registry_volume = "pier-registry-storage"   # its storage (kept across runs)
 *   pier_registry_url = "registry.example.com:5000"   # an external one instead
 *   pier_registry_username = "ci"
 *   pier_registry_password = "secret"
 *   pier_registry_ca_file = "/etc/ssl/example-ca.pem"
 *   pier_dind_layer_cache = true
 * ```
 */
export function readRegistrySettings(
  docker: Record<string, unknown> | undefined,
): RegistrySettings {
  const table = docker ?? {};
  const settings: RegistrySettings = {
    enabled: flag(table, "pier_registry", true),
    dindLayerCache: flag(table, "pier_dind_layer_cache", false),
  };
  const url = text(table, "pier_registry_url");
  if (url !== undefined) {
    const host = url.replace(/^https?:\/\//, "").replace(/\/+$/, "");
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(host)) {
      throw new UsageError(`[runners.docker] pier_registry_url "${url}" is not a host[:port]`);
    }
    settings.externalUrl = host;
  }
  const username = text(table, "pier_registry_username");
  const password = text(table, "pier_registry_password");
  const caFile = text(table, "pier_registry_ca_file");
  const image = text(table, "pier_registry_image");
  const storageVolume = text(table, "pier_registry_volume");
  if (storageVolume !== undefined) {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(storageVolume)) {
      throw new UsageError(
        `[runners.docker] pier_registry_volume "${storageVolume}" is not a volume name`,
      );
    }
    settings.storageVolume = storageVolume;
  }
  if (username !== undefined) settings.username = username;
  if (password !== undefined) settings.password = password;
  if (image !== undefined) settings.image = image;
  if (caFile !== undefined) {
    if (!existsSync(caFile))
      throw new UsageError(`[runners.docker] pier_registry_ca_file ${caFile} does not exist`);
    settings.caFile = caFile;
  }
  return settings;
}
