import type { DockerClient } from "../../docker/docker-client.ts";
import type { ImageInspect } from "../../docker/images.ts";
import { parseImageReference } from "../../docker/image-reference.ts";
import type { RegistryAuth } from "../../docker/registry-auth.ts";
import type { JobSpec, PullPolicy } from "../../job/spec.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";

/** No pull policy got the image onto the engine: the job fails with `image_pull_failure`. */
export class ImagePullError extends Error {}

/** The registry host of a reference, as GitLab's `credentials[].url` names it (`docker.io` for Hub images). */
function registryOf(reference: string): string {
  const { repository } = parseImageReference(reference);
  const first = repository.split("/")[0] ?? "";
  const looksLikeHost =
    repository.includes("/") &&
    (first.includes(".") || first.includes(":") || first === "localhost");
  return looksLikeHost ? first : "docker.io";
}

function authFor(reference: string, spec: JobSpec): RegistryAuth | undefined {
  const registry = registryOf(reference);
  const match = spec.credentials?.find(
    (credential) =>
      credential.type === "registry" &&
      credential.url.replace(/^https?:\/\//, "").replace(/\/.*$/, "") === registry,
  );
  return match === undefined
    ? undefined
    : { username: match.username, password: match.password, serveraddress: match.url };
}

function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    const engine = (error as { engineMessage?: unknown }).engineMessage;
    return typeof engine === "string" && engine !== "" ? engine : error.message;
  }
  return String(error);
}

/**
 * Gets `reference` onto the engine by trying each pull policy in order, as gitlab-runner does
 * (`always` pulls, `if-not-present` uses the local image or pulls, `never` uses only the local
 * one); the first that works wins. Returns the image's inspect data.
 */
export async function ensureImage(o: {
  docker: DockerClient;
  reference: string;
  policies: readonly PullPolicy[];
  spec: JobSpec;
  trace: TraceWriter;
  signal: AbortSignal;
  /** Called when a pull begins: work that was waiting for the image can start meanwhile. */
  onPulling?: () => void;
}): Promise<ImageInspect> {
  const { docker, reference, trace, signal } = o;
  const failures: string[] = [];
  let local: ImageInspect | undefined | null = null;
  const findLocal = async (): Promise<ImageInspect | undefined> => {
    if (local === null) local = await docker.images.find(reference, { signal });
    return local;
  };
  const pull = async (): Promise<ImageInspect> => {
    trace.println(`Pulling docker image ${reference} ...`);
    o.onPulling?.();
    await docker.images.pull(reference, { signal, auth: authFor(reference, o.spec) });
    local = await docker.images.inspect(reference, { signal });
    return local;
  };
  for (const policy of o.policies) {
    try {
      if (policy === "never") {
        const image = await findLocal();
        if (image !== undefined) return image;
        failures.push(`${policy}: the image is not on this engine and the policy forbids pulling`);
      } else if (policy === "if-not-present") {
        const image = await findLocal();
        if (image !== undefined) return image;
        return await pull();
      } else {
        return await pull();
      }
    } catch (error) {
      if (signal.aborted) throw error;
      failures.push(`${policy}: ${reasonOf(error)}`);
      trace.warning(
        `Failed to pull image ${reference} with policy "${policy}": ${reasonOf(error)}`,
      );
    }
  }
  throw new ImagePullError(
    `failed to pull image "${reference}" with specified policies [${o.policies.join(" ")}]: ${failures.join("; ")}`,
  );
}
