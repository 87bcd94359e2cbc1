import { UsageError } from "../errors.ts";
import type { Executor } from "../executors/executor.ts";
import { ShellExecutor } from "../executors/shell/shell-executor.ts";
import type { RunnerEntry } from "./config-toml.ts";

export interface ExecutorFactory {
  /** `info.features` GitLab reads to decide what jobs it may hand out. */
  features: Record<string, boolean>;
  create(entry: RunnerEntry, configFile: string): Promise<Executor>;
}

/**
 * What every pier executor does in runner mode, and only that: GitLab refuses to hand out jobs
 * that need a feature a runner does not list (artifacts:exclude, reports in several formats).
 */
const COMMON_FEATURES: Record<string, boolean> = {
  variables: true,
  refspecs: true,
  masking: true,
  raw_variables: true,
  multi_build_steps: true,
  return_exit_code: true,
  trace_reset: true,
  trace_checksum: true,
  trace_size: true,
  cancelable: true,
  cancel_gracefully: true,
  cache: true,
  fallback_cache_keys: true,
  artifacts: true,
  upload_multiple_artifacts: true,
  upload_raw_artifacts: true,
  artifacts_exclude: true,
  session: false,
  terminal: false,
  proxy: false,
  vault_secrets: false,
  two_phase_job_commit: false,
};

/** Executors by their config.toml name; another executor slots in with one entry. */
export const EXECUTORS: Readonly<Record<string, ExecutorFactory>> = {
  shell: {
    features: { ...COMMON_FEATURES, shared: true, image: false, services: false },
    create: (entry) => Promise.resolve(new ShellExecutor({ runnerName: entry.name })),
  },
  docker: {
    features: {
      ...COMMON_FEATURES,
      image: true,
      services: true,
      service_variables: true,
      service_multiple_aliases: true,
      image_executor_opts: true,
      service_executor_opts: true,
    },
    create: async (entry, configFile) => {
      const { createDockerExecutor } =
        await import("../executors/docker/create-docker-executor.ts");
      return createDockerExecutor({ docker: entry.docker, configFile });
    },
  },
};

export function executorFactory(name: string, where: string): ExecutorFactory {
  const factory = EXECUTORS[name];
  if (factory === undefined) {
    throw new UsageError(
      `${where}: executor "${name}" is not supported by pier (use ${Object.keys(EXECUTORS).join(" or ")})`,
    );
  }
  return factory;
}
