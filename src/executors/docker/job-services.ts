import { deadlineSignal } from "../../deadline-signal.ts";
import type { ContainerCreateConfig, ContainerHostConfig } from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import type { ImageInspect } from "../../docker/images.ts";
import { expandAtRuntime } from "../../job/runtime-expansion.ts";
import type { JobService, JobSpec } from "../../job/spec.ts";
import type { DockerSettings } from "../../runner/runner-config.ts";
import { ANSI_RESET, ANSI_YELLOW } from "../../trace/ansi.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import { shellQuote } from "../shell/step-script.ts";
import { ensureImage } from "./ensure-image.ts";
import { checkAllowedImage, privilegeFor, pullPoliciesFor } from "./image-rules.ts";
import type { DockerJobHooks } from "./job-hooks.ts";
import type { JobObjects } from "./job-objects.ts";
import { serviceAliases, serviceNamePart } from "./service-aliases.ts";

const PROBE_IMAGE = "busybox:latest";
const MAX_PROBED_PORTS = 20;

export interface StartedService {
  service: JobService;
  containerId: string;
  containerName: string;
  image: ImageInspect;
}

/** A service did not get ready and the configuration says to fail the job. */
export class ServiceNotReadyError extends Error {}

/**
 * Service container environment as GitLab builds it: the job's public variables, then the
 * service's own, expanded against the job's. Secrets (`public: false`) stay out.
 */
function serviceEnv(service: JobService, jobEnv: Record<string, string>, spec: JobSpec): string[] {
  const env = new Map<string, string>();
  for (const variable of spec.variables) {
    const value = jobEnv[variable.key];
    if (variable.public && !variable.file && value !== undefined) env.set(variable.key, value);
  }
  const lookup = (name: string): string | undefined => env.get(name) ?? jobEnv[name];
  for (const variable of service.variables ?? []) {
    env.set(variable.key, variable.raw ? variable.value : expandAtRuntime(variable.value, lookup));
  }
  return [...env].map(([key, value]) => `${key}=${value}`);
}

/** Creates and starts the job's services on the job network, with their aliases. */
export async function startServices(o: {
  docker: DockerClient;
  spec: JobSpec;
  settings: DockerSettings;
  objects: JobObjects;
  network: { id: string; name: string };
  hostConfig: ContainerHostConfig;
  jobEnv: Record<string, string>;
  hooks: DockerJobHooks;
  projectKey: string;
  trace: TraceWriter;
  signal: AbortSignal;
}): Promise<StartedService[]> {
  const { docker, spec, settings, trace, signal } = o;
  const taken = new Set<string>();
  const prepared = spec.services.map((service, index) => {
    checkAllowedImage(service.name, "service", settings);
    const privileged = privilegeFor(service.name, "service", settings);
    const aliases: string[] = [];
    for (const alias of serviceAliases(service)) {
      if (taken.has(alias)) {
        trace.warning(
          `Service ${service.name}: alias "${alias}" is taken by another service, skipped`,
        );
      } else {
        taken.add(alias);
        aliases.push(alias);
      }
    }
    return { service, index, privileged, aliases };
  });

  return Promise.all(
    prepared.map(async ({ service, index, privileged, aliases }) => {
      trace.println(`Starting service ${service.name} ...`);
      const image = await ensureImage({
        docker,
        reference: service.name,
        policies: pullPoliciesFor(service.pull_policy, settings),
        spec,
        trace,
        signal,
      });
      trace.println(`Using docker image ${image.Id} for ${service.name} ...`);
      const name = `${o.objects.base}-${serviceNamePart(service.name)}-${index}`;
      let config: ContainerCreateConfig = {
        Image: service.name,
        Env: serviceEnv(service, o.jobEnv, spec),
        Labels: o.objects.labelsFor("service", { "pier.service": service.name.slice(0, 200) }),
        HostConfig: {
          ...o.hostConfig,
          NetworkMode: o.network.name,
          Privileged: privileged,
        },
        NetworkingConfig: { EndpointsConfig: { [o.network.name]: { Aliases: aliases } } },
      };
      if (service.entrypoint !== undefined) config.Entrypoint = service.entrypoint;
      if (service.command !== undefined) config.Cmd = service.command;
      const user = service.executor_opts?.docker?.user;
      if (user !== undefined && user !== "") config.User = user;
      config = await o.hooks.serviceConfig(service, config, {
        id: spec.id,
        projectKey: o.projectKey,
      });
      const Id = await o.objects.createContainer(config, name, signal);
      await docker.containers.start(Id, { signal });
      return { service, containerId: Id, containerName: name, image };
    }),
  );
}

function tcpPorts(started: StartedService): number[] {
  const override = started.service.variables?.find((v) => v.key === "HEALTHCHECK_TCP_PORT");
  if (override !== undefined && /^\d+$/.test(override.value)) return [Number(override.value)];
  return Object.keys(started.image.Config.ExposedPorts ?? {})
    .filter((port) => port.endsWith("/tcp"))
    .map((port) => Number(port.split("/")[0]))
    .filter((port) => Number.isInteger(port))
    .sort((a, b) => a - b)
    .slice(0, MAX_PROBED_PORTS);
}

function hasHealthcheck(image: ImageInspect): boolean {
  const test = image.Config.Healthcheck?.Test;
  return test !== undefined && test.length > 0 && test[0] !== "NONE";
}

type Readiness = { ready: true } | { ready: false; reason: string };

async function waitForHealthcheck(
  docker: DockerClient,
  started: StartedService,
  signal: AbortSignal,
): Promise<Readiness> {
  let last = "starting";
  while (!signal.aborted) {
    const state = (await docker.containers.inspect(started.containerId, { signal })).State;
    if (!state.Running)
      return { ready: false, reason: `service container exited (code ${state.ExitCode})` };
    last = state.Health?.Status ?? "none";
    if (last === "healthy") return { ready: true };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { ready: false, reason: `health check status is still "${last}"` };
}

/** A TCP connect from inside the job network to each exposed port; any port that answers is enough. */
async function waitForTcp(o: {
  docker: DockerClient;
  started: StartedService;
  ports: number[];
  objects: JobObjects;
  network: { name: string };
  spec: JobSpec;
  trace: TraceWriter;
  signal: AbortSignal;
}): Promise<Readiness> {
  const { docker, started, signal } = o;
  const host = shellQuote(started.containerName);
  const anyPort = o.ports.map((port) => `nc -w 1 ${host} ${port} -e true 2>/dev/null`).join(" || ");
  await ensureImage({
    docker,
    reference: PROBE_IMAGE,
    policies: ["if-not-present"],
    spec: o.spec,
    trace: o.trace,
    signal,
  });
  const Id = await o.objects.createContainer(
    {
      Image: PROBE_IMAGE,
      Entrypoint: ["sh", "-c"],
      Cmd: [`until ${anyPort}; do sleep 0.25; done`],
      Labels: o.objects.labelsFor("service-probe"),
      HostConfig: { NetworkMode: o.network.name, AutoRemove: false },
    },
    `${started.containerName}-wait-for-service`,
    signal,
  );
  try {
    const pending = await docker.containers.beginWait(Id, { condition: "next-exit", signal });
    await docker.containers.start(Id, { signal });
    const exit = await pending.exit;
    return exit.StatusCode === 0
      ? { ready: true }
      : { ready: false, reason: `probe exited with ${exit.StatusCode}` };
  } catch (error) {
    if (signal.aborted) {
      return { ready: false, reason: `no answer on port(s) ${o.ports.join(", ")}` };
    }
    throw error;
  } finally {
    // Stop a probe still trying; removal is the job cleanup's (one remover, no race with it).
    await docker.containers
      .kill(Id, { signal: AbortSignal.timeout(30_000) })
      .catch(() => undefined);
  }
}

async function serviceLogs(docker: DockerClient, id: string): Promise<string> {
  try {
    const output = await docker.containers.logs(id, {
      tail: 100,
      signal: AbortSignal.timeout(10_000),
    });
    const chunks: Buffer[] = [];
    const collect = (stream: NodeJS.ReadableStream): Promise<void> =>
      new Promise((resolve) => {
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", resolve);
        stream.on("error", () => resolve());
      });
    await Promise.all([collect(output.stdout), collect(output.stderr)]);
    return Buffer.concat(chunks).toString("utf8");
  } catch (error) {
    return `(no logs: ${error instanceof Error ? error.message : String(error)})`;
  }
}

/**
 * Waits for every service within `wait_for_services_timeout`: the image's HEALTHCHECK when it
 * has one, else a TCP probe of its exposed ports from a probe container on the job network;
 * a service with neither counts as ready once it runs. A service that never gets ready gets
 * gitlab-runner's warning with its logs; with `services_readiness = "fail"` the job fails.
 */
export async function waitForServices(o: {
  docker: DockerClient;
  services: StartedService[];
  settings: DockerSettings;
  objects: JobObjects;
  network: { name: string };
  spec: JobSpec;
  trace: TraceWriter;
  signal: AbortSignal;
}): Promise<void> {
  const timeoutSeconds = o.settings.waitForServicesTimeout;
  if (o.services.length === 0 || timeoutSeconds <= 0) return;
  const { trace, docker } = o;
  trace.println(`Waiting for services to be up and running (timeout ${timeoutSeconds} seconds)...`);
  const { signal: deadline, dispose } = deadlineSignal(o.signal, timeoutSeconds * 1000);
  const results = await Promise.all(
    o.services.map(async (started): Promise<Readiness> => {
      try {
        if (hasHealthcheck(started.image))
          return await waitForHealthcheck(docker, started, deadline);
        const ports = tcpPorts(started);
        if (ports.length === 0) {
          const state = (await docker.containers.inspect(started.containerId, { signal: deadline }))
            .State;
          return state.Running
            ? { ready: true }
            : { ready: false, reason: `service container exited (code ${state.ExitCode})` };
        }
        return await waitForTcp({ ...o, started, ports, signal: deadline });
      } catch (error) {
        if (o.signal.aborted) throw error;
        return {
          ready: false,
          reason: deadline.aborted
            ? `not ready within ${timeoutSeconds} seconds`
            : error instanceof Error
              ? error.message
              : String(error),
        };
      }
    }),
  ).finally(dispose);
  const failed: string[] = [];
  for (const [index, result] of results.entries()) {
    const started = o.services[index];
    if (result.ready || started === undefined) continue;
    failed.push(started.service.name);
    const logs = await serviceLogs(docker, started.containerId);
    trace.println(
      `${ANSI_YELLOW}*** WARNING:${ANSI_RESET} Service ${started.containerName} probably didn't start properly.`,
    );
    trace.println("");
    trace.println("Health check error:");
    trace.println(result.reason);
    trace.println("");
    trace.println("Service container logs:");
    trace.write(logs.endsWith("\n") || logs === "" ? logs : `${logs}\n`);
    trace.println("");
    trace.println(`${ANSI_YELLOW}*********${ANSI_RESET}`);
  }
  if (failed.length > 0 && o.settings.servicesReadiness === "fail") {
    throw new ServiceNotReadyError(`service(s) ${failed.join(", ")} did not get ready`);
  }
}
