import type { ContainerCreateConfig } from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import type { JobService, JobSpec, JobVariable } from "../../job/spec.ts";

/** The job network as hooks see it. */
export interface JobNetwork {
  id: string;
  name: string;
}

/** Who a service container belongs to, for hooks that keep per-project state (layer caches). */
export interface JobIdentity {
  id: number;
  projectKey: string;
}

/**
 * Extension points of the Docker executor: the CI registry, DinD wiring and the DinD layer cache
 * plug in here without the executor knowing about them.
 */
export interface DockerJobHooks {
  /** Extra job variables (e.g. CI_REGISTRY, CI_REGISTRY_IMAGE, CI_REGISTRY_USER, CI_REGISTRY_PASSWORD), added before the job's own. */
  variables(spec: JobSpec): Promise<JobVariable[]>;
  /** Called once the job network exists, before services start (e.g. connect the registry with an alias). */
  networkReady(network: JobNetwork, signal: AbortSignal): Promise<void>;
  /** Adjust a service container before it is created (e.g. DinD: CA mount, --registry-mirror, a layer-cache volume). Return the changed create config. */
  serviceConfig(
    service: JobService,
    config: ContainerCreateConfig,
    job: JobIdentity,
  ): Promise<ContainerCreateConfig>;
  /**
   * Optional: whether a job without services still needs a network of its own (e.g. to reach
   * the CI registry by an alias). Jobs with services always get one; without this, the others
   * run on the engine's default bridge (no network to create and remove: faster).
   */
  needsNetwork?(spec: JobSpec): boolean;
  /** After the job's containers are removed (release layer-cache volumes, disconnect registry). Idempotent. Called only for jobs that had a network. */
  jobFinished(network: JobNetwork): Promise<void>;
  /**
   * Optional: a job container has started and has its build tree. Background work that would
   * slow the engine and pier down while they start the first one (the startup sweep) may begin.
   */
  jobContainerStarted?(): void;
  /** Optional: the engine connection the hooks use, for the executor to share (one ping, one pool). */
  engine?(): Promise<DockerClient>;
}

/** Hooks that change nothing. */
export const noJobHooks: DockerJobHooks = {
  variables: () => Promise.resolve([]),
  networkReady: () => Promise.resolve(),
  serviceConfig: (_service, config) => Promise.resolve(config),
  jobFinished: () => Promise.resolve(),
};
