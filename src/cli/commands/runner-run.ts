import { existsSync } from "node:fs";
import { UsageError } from "../../errors.ts";
import { readRunnerConfig } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { createRunnerLog, type RunnerLog } from "../../runner/runner-log.ts";
import { RunnerService } from "../../runner/runner-service.ts";
import { loadSystemId } from "../../runner/system-id.ts";
import type { RunnerConfig } from "../../runner/config-toml.ts";
import { stateRoot } from "../../storage/state-dir.ts";

export interface RunnerRunOptions {
  config?: string | undefined;
  logFormat?: string | undefined;
  logLevel?: string | undefined;
}

const DEFAULT_SHUTDOWN_TIMEOUT_S = 30;

/** Settings pier reads but does not act on yet: said once at start, not silently ignored. */
function warnAboutUnappliedSettings(config: RunnerConfig, log: RunnerLog): void {
  if (config.global.listenAddress !== undefined) {
    log.warn("listen_address: pier does not serve metrics yet");
  }
  for (const entry of config.runners) {
    const runner = entry.name;
    if (entry.tlsCaFile !== undefined) {
      log.warn("tls-ca-file is not applied yet; start pier with NODE_EXTRA_CA_CERTS=<file>", {
        runner,
      });
    }
    if (entry.preGetSourcesScript !== undefined) {
      log.warn("pre_get_sources_script is not run yet", { runner });
    }
    if (entry.executor === "shell" && entry.buildsDir !== undefined) {
      log.warn(
        "builds_dir is not applied to the shell executor (builds live in pier's state dir)",
        { runner },
      );
    }
  }
}

/**
 * `pier runner run`: the long-lived service. SIGQUIT stops asking for jobs and lets running
 * ones finish; SIGTERM/SIGINT abort running jobs and report them as runner system failures,
 * waiting up to `shutdown_timeout`; a second signal exits at once.
 */
export async function runnerRunCommand(options: RunnerRunOptions): Promise<number> {
  const configFile = options.config ?? defaultRunnerConfigFile();
  if (!existsSync(configFile)) {
    throw new UsageError(
      `${configFile} does not exist: register a runner first (pier runner register)`,
    );
  }
  const { config, warnings } = readRunnerConfig(configFile);
  const log = createRunnerLog({
    format: options.logFormat ?? config.global.logFormat,
    level: options.logLevel ?? config.global.logLevel,
  });
  for (const warning of warnings) log.warn(warning);
  if (config.runners.length === 0) throw new UsageError(`${configFile}: no [[runners]] to run`);
  if (config.global.concurrent !== undefined && config.global.concurrent < 1) {
    throw new UsageError(`${configFile}: concurrent must be at least 1`);
  }
  warnAboutUnappliedSettings(config, log);
  const systemId = loadSystemId(configFile);
  const service = new RunnerService({ config, configFile, systemId, stateDir: stateRoot(), log });
  await service.start();
  log.info("pier runner is running", {
    config: configFile,
    concurrent: service.concurrent,
    system_id: systemId,
  });

  const shutdownSeconds = config.global.shutdownTimeout ?? 0;
  const shutdownMs = (shutdownSeconds > 0 ? shutdownSeconds : DEFAULT_SHUTDOWN_TIMEOUT_S) * 1000;
  return new Promise<number>((resolve) => {
    let stopping: "graceful" | "forceful" | undefined;
    const finish = (code: number): void => {
      process.off("SIGQUIT", graceful);
      process.off("SIGTERM", forceful);
      process.off("SIGINT", forceful);
      resolve(code);
    };
    const graceful = (): void => {
      if (stopping !== undefined) return forceful("SIGQUIT");
      stopping = "graceful";
      log.info("SIGQUIT: asking for no more jobs, waiting for running ones", {
        running: service.runningJobs,
      });
      void service.stopGracefully().then(() => {
        log.info("all jobs finished; exiting");
        finish(0);
      });
    };
    const forceful = (signal: NodeJS.Signals): void => {
      if (stopping === "forceful") {
        log.error(`${signal} again: exiting without waiting for jobs`);
        process.exit(1);
      }
      stopping = "forceful";
      log.info(`${signal}: aborting running jobs`, { running: service.runningJobs });
      void service.stopForcefully(shutdownMs).then((done) => {
        if (done) return finish(0);
        log.error("shutdown_timeout reached before every job was reported; exiting");
        process.exit(1);
      });
    };
    process.on("SIGQUIT", graceful);
    process.on("SIGTERM", forceful);
    process.on("SIGINT", forceful);
  });
}
