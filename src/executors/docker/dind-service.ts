import type { ContainerCreateConfig, ContainerMount } from "../../docker/container-types.ts";
import type { JobService } from "../../job/spec.ts";

/** `docker:24-dind`, `docker:dind`, `registry.example.com/docker:19.03.13-dind-rootless`… */
export function isDindService(service: Pick<JobService, "name">): boolean {
  const withoutDigest = service.name.split("@")[0] ?? "";
  const lastSlash = withoutDigest.lastIndexOf("/");
  const nameAndTag = withoutDigest.slice(lastSlash + 1);
  const colon = nameAndTag.indexOf(":");
  const repository = colon < 0 ? nameAndTag : nameAndTag.slice(0, colon);
  const tag = colon < 0 ? "" : nameAndTag.slice(colon + 1);
  return repository === "docker" ? /(^|-)dind($|-)/.test(tag) : /(^|-)dind$/.test(repository);
}

/** Where a Docker daemon looks for a registry's CA: `/etc/docker/certs.d/<host[:port]>/ca.crt`. */
export function certsDirTarget(registryHost: string): string {
  return `/etc/docker/certs.d/${registryHost}/ca.crt`;
}

/**
 * The DinD service with the registry's CA mounted where its daemon trusts it. A mount (not a
 * bind string): `host:port` holds a colon, which `Binds` would take as a separator.
 */
export function withRegistryCa(
  config: ContainerCreateConfig,
  registryHost: string,
  caFile: string,
): ContainerCreateConfig {
  const target = certsDirTarget(registryHost);
  const mounts: ContainerMount[] = (config.HostConfig?.Mounts ?? []).filter(
    (mount) => mount.Target !== target,
  );
  mounts.push({ Type: "bind", Source: caFile, Target: target, ReadOnly: true });
  return { ...config, HostConfig: { ...config.HostConfig, Mounts: mounts } };
}
