import { connectDocker, type DockerClient } from "../../docker/docker-client.ts";
import { sweepInBackground } from "../../gc/collect-garbage.ts";
import type { JobService, JobSpec, JobVariable } from "../../job/spec.ts";
import { newRegistryCredentials, type RegistryCredentials } from "./ci-registry-credentials.ts";
import {
  MANAGED_REGISTRY_HOST,
  startManagedRegistry,
  type ManagedRegistry,
} from "./ci-registry.ts";
import { isDindService, withRegistryCa } from "./dind-service.ts";
import type { DockerJobHooks, JobNetwork } from "./job-hooks.ts";
import { leaseLayerCache, withLayerCache, type LayerCacheLease } from "./layer-cache.ts";
import type { RegistrySettings } from "./registry-settings.ts";

export interface RegistryHooks extends DockerJobHooks {
  /** The CI_REGISTRY jobs see (for the pipeline compiler's CI_REGISTRY and CI_REGISTRY_IMAGE). */
  readonly registryHost: string | undefined;
  /** End of the run: removes the registry container, gives back every layer-cache lease. */
  close(): Promise<void>;
}

/** When the startup sweep begins at the latest. */
const SWEEP_DELAY_MS = 2000;

export interface RegistryHooksOptions {
  /** The engine; without one, the hooks connect (from DOCKER_HOST…) when first needed. */
  client?: DockerClient;
  stateDir: string;
  settings: RegistrySettings;
  /** Extra labels on what the hooks create (tests mark their objects). */
  labels?: Record<string, string>;
  /** The managed registry's storage volume (tests use their own). */
  storageVolume?: string;
  /** Sweep objects of dead pier processes in the background (default true). */
  startupSweep?: boolean;
}

/**
 * The CI registry, DinD wiring and DinD layer cache for one pier run (one pipeline).
 *
 * The managed registry starts with the first job that needs it (a DinD service, or
 * CI_REGISTRY mentioned in its script or variables), so pipelines that never use it pay
 * nothing; from then on it joins every job network as `registry.pier.local`, and leaves it when
 * the job ends.
 */
export function createRegistryHooks(o: RegistryHooksOptions): RegistryHooks {
  const { settings } = o;
  let connecting: Promise<DockerClient> | undefined;
  const engine = (): Promise<DockerClient> => {
    connecting ??=
      o.client === undefined
        ? connectDocker({ signal: AbortSignal.timeout(15_000) })
        : Promise.resolve(o.client);
    return connecting;
  };
  const external = settings.externalUrl;
  const credentials: RegistryCredentials | undefined = !settings.enabled
    ? undefined
    : external !== undefined
      ? settings.username !== undefined && settings.password !== undefined
        ? { username: settings.username, password: settings.password }
        : undefined
      : newRegistryCredentials();
  const registryHost = !settings.enabled ? undefined : (external ?? MANAGED_REGISTRY_HOST);
  const closing = new AbortController();
  const storageVolume = o.storageVolume ?? settings.storageVolume;
  // What a crashed pier left behind goes once the first job container has started and has its
  // build tree (the list calls would compete with that), or 2 s in, or at the end at last.
  let sweep: Promise<void> | undefined;
  const startSweep = (): Promise<void> => {
    sweep ??=
      o.startupSweep === false
        ? Promise.resolve()
        : engine().then(
            (client) => sweepInBackground(client, o.stateDir),
            () => undefined,
          );
    return sweep;
  };
  const sweepTimer = setTimeout(() => void startSweep(), SWEEP_DELAY_MS);
  sweepTimer.unref();

  let registry: Promise<ManagedRegistry> | undefined;
  const ensureRegistry = (): Promise<ManagedRegistry> => {
    registry ??= engine().then((client) =>
      startManagedRegistry({
        client,
        stateDir: o.stateDir,
        credentials: credentials ?? newRegistryCredentials(),
        ...(settings.image === undefined ? {} : { image: settings.image }),
        ...(o.labels === undefined ? {} : { labels: o.labels }),
        ...(storageVolume === undefined ? {} : { storageVolume }),
        signal: closing.signal,
      }),
    );
    return registry;
  };
  const managed = settings.enabled && external === undefined;
  const connected = new Set<string>();
  const leases = new Map<string, LayerCacheLease[]>();

  const releaseLeases = async (key: string): Promise<void> => {
    const held = leases.get(key) ?? [];
    leases.delete(key);
    await Promise.all(held.map((lease) => lease.release()));
  };

  return {
    registryHost,
    engine,

    async variables(spec: JobSpec): Promise<JobVariable[]> {
      if (registryHost === undefined) return [];
      if (managed && needsRegistry(spec, registryHost)) await ensureRegistry();
      const projectPath = spec.variables.find((v) => v.key === "CI_PROJECT_PATH")?.value;
      const variables: JobVariable[] = [
        plain("CI_REGISTRY", registryHost),
        ...(projectPath === undefined
          ? []
          : [plain("CI_REGISTRY_IMAGE", `${registryHost}/${projectPath.toLowerCase()}`)]),
      ];
      if (credentials !== undefined) {
        variables.push(plain("CI_REGISTRY_USER", credentials.username), {
          key: "CI_REGISTRY_PASSWORD",
          value: credentials.password,
          public: false,
          masked: true,
          file: false,
          raw: true,
        });
      }
      return variables;
    },

    jobContainerStarted(): void {
      void startSweep();
    },

    needsNetwork(spec: JobSpec): boolean {
      return managed && registryHost !== undefined && needsRegistry(spec, registryHost);
    },

    async networkReady(network: JobNetwork, signal: AbortSignal): Promise<void> {
      if (registry === undefined) return;
      // A registry that failed to start has failed the job that needed it; others go on.
      const running = await registry.catch(() => undefined);
      if (running === undefined) return;
      await running.connect(network.id, signal);
      connected.add(network.id);
    },

    async serviceConfig(service: JobService, config, job) {
      if (!isDindService(service)) return config;
      let result = config;
      const caFile = managed ? (await ensureRegistry()).caFile : settings.caFile;
      if (registryHost !== undefined && caFile !== undefined) {
        result = withRegistryCa(result, registryHost, caFile);
      }
      if (settings.dindLayerCache || envFlag(config.Env, "PIER_DIND_LAYER_CACHE")) {
        const client = await engine();
        const lease = await leaseLayerCache({
          client,
          stateDir: o.stateDir,
          projectKey: job.projectKey,
          ...(o.labels === undefined ? {} : { labels: o.labels }),
        });
        const key = config.HostConfig?.NetworkMode ?? `job-${String(job.id)}`;
        leases.set(key, [...(leases.get(key) ?? []), lease]);
        try {
          result = await withLayerCache(client, result, lease.volume);
        } catch (error) {
          await releaseLeases(key);
          throw error;
        }
      }
      return result;
    },

    async jobFinished(network: JobNetwork): Promise<void> {
      await Promise.all([releaseLeases(network.id), releaseLeases(network.name)]);
      if (!connected.delete(network.id) || registry === undefined) return;
      await (await registry).disconnect(network.id);
    },

    async close(): Promise<void> {
      closing.abort();
      await Promise.all([...leases.keys()].map(releaseLeases));
      clearTimeout(sweepTimer);
      await startSweep();
      const running = await registry?.catch(() => undefined);
      await running?.stop();
      if (o.client === undefined && connecting !== undefined) {
        (await connecting.catch(() => undefined))?.close();
      }
    },
  };
}

function plain(key: string, value: string): JobVariable {
  return { key, value, public: true, masked: false, file: false, raw: false };
}

function envFlag(env: readonly string[] | undefined, key: string): boolean {
  const entry = env?.find((item) => item.startsWith(`${key}=`));
  return entry !== undefined && /^(true|1|yes)$/i.test(entry.slice(key.length + 1));
}

/**
 * A job that talks to the registry: a DinD service, or CI_REGISTRY (or the registry's host, in
 * variables expanded when the pipeline was created) in its script or variables.
 */
export function needsRegistry(spec: JobSpec, registryHost: string): boolean {
  if (spec.services.some(isDindService)) return true;
  if (spec.steps.some((step) => step.script.some((line) => line.includes("CI_REGISTRY")))) {
    return true;
  }
  return spec.variables.some(
    (variable) =>
      !variable.key.startsWith("CI_REGISTRY") &&
      (variable.value.includes("CI_REGISTRY") || variable.value.includes(registryHost)),
  );
}
