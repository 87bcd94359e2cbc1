import { randomBytes } from "node:crypto";
import type { ContainerCreateConfig } from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import { KEEP_LABEL, ownerLabels } from "../../gc/owner-labels.ts";
import type { JobSpec } from "../../job/spec.ts";

const CLEANUP_TIMEOUT_MS = 120_000;
const CREATE_TIMEOUT_MS = 120_000;

/** Engine object names allow `[a-zA-Z0-9][a-zA-Z0-9_.-]`. */
function nameSafe(text: string): string {
  return text.replace(/[^a-zA-Z0-9_.-]+/g, "-").replace(/^[^a-zA-Z0-9]+/, "");
}

/**
 * The Docker objects of one job: their derived unique names, pier's labels, and their removal.
 * Everything created goes through here, so cleanup knows all of it on every path.
 */
export class JobObjects {
  readonly base: string;
  readonly labels: Record<string, string>;
  readonly #docker: DockerClient;
  readonly #containers = new Set<string>();
  readonly #creating = new Set<Promise<unknown>>();
  readonly #volumes = new Set<string>();
  #network: { id: string; name: string } | undefined;
  #cleaned: Promise<string[]> | undefined;

  constructor(docker: DockerClient, spec: JobSpec, projectKey: string) {
    this.#docker = docker;
    const suffix = randomBytes(4).toString("hex");
    this.base = nameSafe(`pier-${spec.job_info.pipeline_id}-${spec.id}-${suffix}`);
    this.labels = {
      ...ownerLabels(),
      "pier.pipeline": String(spec.job_info.pipeline_id),
      "pier.job": String(spec.id),
      "pier.job.name": spec.job_info.name.slice(0, 200),
      "pier.project": projectKey,
    };
  }

  labelsFor(role: string, extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.labels, "pier.role": role, ...extra };
  }

  get network(): { id: string; name: string } | undefined {
    return this.#network;
  }

  trackContainer(id: string): void {
    this.#containers.add(id);
  }

  /**
   * Creates a container of this job's, tracked for cleanup. The request is not aborted with the
   * job: an aborted create may still complete in the engine, leaving a container cleanup never
   * heard of. So it runs to its end (cleanup waits for it) and the job's signal is checked after.
   */
  async createContainer(
    config: ContainerCreateConfig,
    name: string,
    signal: AbortSignal,
  ): Promise<string> {
    signal.throwIfAborted();
    if (this.#cleaned !== undefined) throw new Error(`${name}: the job's cleanup has begun`);
    const creation = this.#docker.containers.create(config, {
      name,
      signal: AbortSignal.timeout(CREATE_TIMEOUT_MS),
    });
    this.#creating.add(creation);
    try {
      const { Id } = await creation;
      this.#containers.add(Id);
      signal.throwIfAborted();
      return Id;
    } finally {
      this.#creating.delete(creation);
    }
  }

  /** A container the engine removed itself (AutoRemove): nothing left to remove. */
  forgetContainer(id: string): void {
    this.#containers.delete(id);
  }

  async createNetwork(signal: AbortSignal): Promise<{ id: string; name: string }> {
    const name = `${this.base}-network`;
    const id = await this.#docker.networks.create(
      { Name: name, Driver: "bridge", Labels: this.labelsFor("network") },
      { signal },
    );
    this.#network = { id, name };
    return this.#network;
  }

  /** A volume for this job only (`what` tells them apart), removed at cleanup. */
  async createVolume(what: string, signal: AbortSignal): Promise<string> {
    const name = `${this.base}-${nameSafe(what)}`;
    this.#volumes.add(name);
    await this.#docker.volumes.create(
      { Name: name, Labels: this.labelsFor("volume", { "pier.volume": what }) },
      { signal },
    );
    return name;
  }

  /**
   * Removes the containers (with their anonymous volumes), then the network and this job's
   * volumes, each group concurrently, on a budget of its own (the job's signal may be aborted
   * already). `beforeNetworkRemoval` runs once the containers are gone. Idempotent; returns
   * what could not be removed.
   */
  cleanup(beforeNetworkRemoval?: () => Promise<void>): Promise<string[]> {
    this.#cleaned ??= this.#cleanup(beforeNetworkRemoval);
    return this.#cleaned;
  }

  async #cleanup(beforeNetworkRemoval?: () => Promise<void>): Promise<string[]> {
    await Promise.allSettled([...this.#creating]);
    const signal = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
    const problems: string[] = [];
    const attempt = async (what: string, action: () => Promise<void>): Promise<void> => {
      try {
        await action();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    await Promise.all(
      [...this.#containers].map((id) =>
        attempt(`container ${id.slice(0, 12)}`, () =>
          this.#docker.containers.remove(id, {
            force: true,
            volumes: true,
            ignoreMissing: true,
            signal,
          }),
        ),
      ),
    );
    if (beforeNetworkRemoval !== undefined) await attempt("job hooks", beforeNetworkRemoval);
    const network = this.#network;
    await Promise.all([
      ...(network === undefined
        ? []
        : [
            attempt(`network ${network.name}`, () =>
              this.#docker.networks.remove(network.id, { ignoreMissing: true, signal }),
            ),
          ]),
      ...[...this.#volumes].map((name) =>
        attempt(`volume ${name}`, async () => {
          const volume = await this.#docker.volumes
            .inspect(name, { signal })
            .catch(() => undefined);
          if (volume?.Labels?.[KEEP_LABEL] !== undefined) return;
          await this.#docker.volumes.remove(name, { force: true, ignoreMissing: true, signal });
        }),
      ),
    ]);
    return problems;
  }
}
