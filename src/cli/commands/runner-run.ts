import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { connectDocker } from "../../docker/docker-client.ts";
import { UsageError } from "../../errors.ts";
import { readRunnerConfig } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { watchConfigFile } from "../../runner/config-watch.ts";
import { recoverLostJobs } from "../../runner/journal-recovery.ts";
import { startMetricsServer, type MetricsServer } from "../../runner/metrics-server.ts";
import { RunnerMetrics } from "../../runner/metrics.ts";
import {
  createRunnerLog,
  type AdjustableRunnerLog,
  type RunnerLog,
} from "../../runner/runner-log.ts";
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
  for (const entry of config.runners) {
    const runner = entry.name;
    if (entry.preGetSourcesScript !== undefined) {
      log.warn("pre_get_sources_script is not run: pier fetches sources on the host", { runner });
    }
  }
}

function checkedConfig(configFile: string, config: RunnerConfig): RunnerConfig {
  if (config.runners.length === 0) throw new UsageError(`${configFile}: no [[runners]] to run`);
  if (config.global.concurrent !== undefined && config.global.concurrent < 1) {
    throw new UsageError(`${configFile}: concurrent must be at least 1`);
  }
  return config;
}

/**
 * Reloads config.toml when it changes (and on SIGHUP, as gitlab-runner does); a file that
 * does not load is reported and the running configuration kept.
 */
function reloadOnChange(
  configFile: string,
  service: RunnerService,
  log: AdjustableRunnerLog,
  running: RunnerConfig,
): () => void {
  let current = running;
  let queue = Promise.resolve();
  const reload = (): void => {
    queue = queue
      .then(async () => {
        let next: RunnerConfig;
        try {
          const loaded = readRunnerConfig(configFile);
          next = checkedConfig(configFile, loaded.config);
          for (const warning of loaded.warnings) log.warn(warning);
        } catch (error) {
          log.error("config.toml not reloaded; keeping the running configuration", {
            error: error instanceof Error ? error.message : String(error),
          });
          return;
        }
        if (next.global.listenAddress !== current.global.listenAddress) {
          log.warn("listen_address changes take effect when pier restarts");
        }
        log.setLevel(next.global.logLevel);
        current = next;
        await service.applyConfig(next);
        log.info("configuration loaded", { config: configFile, concurrent: service.concurrent });
      })
      .catch((error: unknown) => {
        // The queue goes on: a later change of the file is still applied.
        log.error("config.toml reload failed", {
          error: error instanceof Error ? error.message : String(error),
        });
      });
  };
  const watcher = watchConfigFile({ file: configFile, onChange: reload });
  process.on("SIGHUP", reload);
  return () => {
    watcher.close();
    process.off("SIGHUP", reload);
  };
}

/**
 * `pier runner run`: the long-lived service. SIGQUIT stops asking for jobs and lets running
 * ones finish; SIGTERM/SIGINT abort running jobs and report them as runner system failures,
 * waiting up to `shutdown_timeout`; a second signal exits at once. At start, jobs a dead pier
 * left behind (the crash journal) are reported failed and cleaned up.
 */
export async function runnerRunCommand(options: RunnerRunOptions): Promise<number> {
  const configFile = options.config ?? defaultRunnerConfigFile();
  if (!existsSync(configFile)) {
    throw new UsageError(
      `${configFile} does not exist: register a runner first (pier runner register)`,
    );
  }
  const { config, warnings } = readRunnerConfig(configFile);
  const metrics = new RunnerMetrics();
  const log = createRunnerLog({
    format: options.logFormat ?? config.global.logFormat,
    level: options.logLevel ?? config.global.logLevel,
    onLogged: (level) => metrics.logged(level),
  });
  for (const warning of warnings) log.warn(warning);
  checkedConfig(configFile, config);
  warnAboutUnappliedSettings(config, log);
  const systemId = loadSystemId(configFile);
  const stateDir = stateRoot();
  const service = new RunnerService({ config, configFile, systemId, stateDir, log, metrics });
  let server: MetricsServer | undefined;
  if (config.global.listenAddress !== undefined && config.global.listenAddress !== "") {
    // Before any job is asked for: a busy port is an error at start, not a half-started runner.
    server = await startMetricsServer(config.global.listenAddress, {
      metrics: () => metrics.render(),
      jobs: () => service.jobsList(),
    }).catch((error: unknown) => {
      if (error instanceof UsageError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new UsageError(`listen_address "${config.global.listenAddress ?? ""}": ${reason}`);
    });
    log.info("metrics server listening", { address: server.address });
  }
  try {
    await service.start();
  } catch (error) {
    // An entry that cannot start: the ones started before it stop asking too.
    await service.stopForcefully(1000);
    await server?.close();
    throw error;
  }
  const stopWatching = reloadOnChange(
    configFile,
    service,
    options.logLevel === undefined ? log : { ...log, setLevel: () => undefined },
    config,
  );
  log.info("pier runner is running", {
    config: configFile,
    concurrent: service.concurrent,
    system_id: systemId,
  });
  // In the background: GitLab may be slow to answer, new jobs need not wait for old ones.
  const recovery = recoverLostJobs({
    stateDir,
    log,
    runners: config.runners,
    connectDocker: () => connectDocker({ signal: AbortSignal.timeout(15_000) }),
  }).catch((error: unknown) => {
    log.error("recovering lost jobs failed", { error: String(error) });
  });

  const shutdownSeconds = config.global.shutdownTimeout ?? 0;
  const shutdownMs = (shutdownSeconds > 0 ? shutdownSeconds : DEFAULT_SHUTDOWN_TIMEOUT_S) * 1000;
  return new Promise<number>((resolve) => {
    let stopping: "graceful" | "forceful" | undefined;
    const finish = (code: number): void => {
      process.off("SIGQUIT", graceful);
      process.off("SIGTERM", forceful);
      process.off("SIGINT", forceful);
      stopWatching();
      // A recovery still talking to an unreachable GitLab does not hold the exit up for long:
      // its entries stay in the journal for the next start.
      const recovered = Promise.race([recovery, sleep(shutdownMs, undefined, { ref: false })]);
      void Promise.all([recovered, server?.close()]).then(() => resolve(code));
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
