import { connectDocker } from "../../docker/docker-client.ts";
import { DockerUnavailableError } from "../../docker/docker-errors.ts";
import { UsageError } from "../../errors.ts";
import { dockerSettingsFrom } from "../../runner/runner-config.ts";
import { DockerExecutor } from "./docker-executor.ts";
import type { DockerJobHooks } from "./job-hooks.ts";

/**
 * The Docker executor for `pier run`: connects to the engine first, so an unreachable engine is
 * one clear error before any job starts. `hooks` is where the CI registry and DinD wiring plug in.
 */
export async function createDockerExecutor(o: {
  docker?: Record<string, unknown> | undefined;
  configFile?: string;
  hooks?: DockerJobHooks;
}): Promise<DockerExecutor> {
  const settings = dockerSettingsFrom(o.docker, o.configFile);
  const disableCache = o.docker?.["disable_cache"];
  if (disableCache !== undefined && typeof disableCache !== "boolean") {
    throw new UsageError(
      `${o.configFile ?? "config.toml"}: [runners.docker] disable_cache must be true or false`,
    );
  }
  let docker;
  try {
    docker = await (o.hooks?.engine?.() ?? connectDocker({ signal: AbortSignal.timeout(15_000) }));
  } catch (error) {
    if (error instanceof DockerUnavailableError) {
      throw new UsageError(`the docker executor needs a Docker engine: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
  return new DockerExecutor({
    docker,
    settings,
    disableCache: disableCache === true,
    ...(o.hooks !== undefined && { hooks: o.hooks }),
  });
}
