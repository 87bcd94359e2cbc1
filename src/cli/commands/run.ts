import { existsSync, rmdirSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { join, resolve } from "node:path";
import { UsageError } from "../../errors.ts";
import type { RegistryHooks } from "../../executors/docker/registry-hooks.ts";
import type { Executor } from "../../executors/executor.ts";
import { allocatePipelineId } from "../../local/pipeline-id.ts";
import { readProjectVariables } from "../../local/project-variables.ts";
import { runPipelineLocally, type LocalRunResult } from "../../local/run-pipeline.ts";
import { planPipeline } from "../../pipeline/plan-pipeline.ts";
import { writeJsonReport } from "../../report/json-report.ts";
import { createTerminalReporter } from "../../report/terminal-reporter.ts";
import type { RunnerSettings } from "../../runner/runner-config.ts";
import { copyArtifactsOut } from "../../storage/artifacts.ts";
import { discardSpareCheckouts } from "../../storage/spare-checkouts.ts";
import { warmUpSources } from "../../storage/sources.ts";
import { runDir, spareCheckoutsRoot, stateRoot } from "../../storage/state-dir.ts";
import { markPhase } from "../../trace/phase-timing.ts";
import type { PipelineOptions } from "../main.ts";
import { parseVariableFlags } from "../variable-flags.ts";

export interface RunOptions extends PipelineOptions {
  executor?: string | undefined;
  concurrency?: string | undefined;
  manual: string[];
  report?: string | undefined;
  plain?: boolean | undefined;
  config?: string | undefined;
  variablesFile?: string | undefined;
  artifactsTo?: string | undefined;
}

function configHome(): string {
  const xdg = process.env["XDG_CONFIG_HOME"];
  return xdg !== undefined && xdg.startsWith("/") ? xdg : join(homedir(), ".config");
}

/** Runner settings from --config or the default config.toml; its parser loads only when needed. */
async function runnerSettings(options: RunOptions): Promise<RunnerSettings> {
  if (options.config !== undefined && !existsSync(options.config)) {
    throw new UsageError(`${options.config}: config file not found`);
  }
  const file = options.config ?? join(configHome(), "pier", "config.toml");
  if (!existsSync(file)) return {};
  const { readRunnerSettings } = await import("../../runner/runner-config.ts");
  return readRunnerSettings(file);
}

function concurrencyOf(options: RunOptions, settings: RunnerSettings): number {
  if (options.concurrency === undefined) return settings.concurrent ?? availableParallelism();
  const value = Number(options.concurrency);
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`--concurrency must be a positive integer, got "${options.concurrency}"`);
  }
  return value;
}

/**
 * Starts loading the executor's code, to overlap with reading the pipeline; the shell
 * executor is made once the plan tells how many jobs to expect.
 */
async function executorFor(
  name: string,
  settings: RunnerSettings,
  configFile: string | undefined,
  hooks: RegistryHooks | undefined,
): Promise<(expectedJobs: number) => Executor> {
  switch (name) {
    case "shell": {
      const { ShellExecutor } = await import("../../executors/shell/shell-executor.ts");
      return (expectedJobs) => new ShellExecutor({ expectedJobs });
    }
    case "docker": {
      const { createDockerExecutor } =
        await import("../../executors/docker/create-docker-executor.ts");
      const executor = await createDockerExecutor({
        docker: settings.docker,
        ...(configFile !== undefined && { configFile }),
        ...(hooks !== undefined && { hooks }),
      });
      return () => executor;
    }
    default:
      throw new UsageError(`unknown executor "${name}" (expected shell or docker)`);
  }
}

/** Exit codes of DESIGN.md: 0 succeeded (allowed failures included), 1 failed, 130 interrupted. */
function exitCodeOf(result: LocalRunResult): number {
  switch (result.status) {
    case "success":
    case "skipped":
    case "manual":
      return 0;
    case "failed":
      return 1;
    case "canceled":
      return 130;
  }
}

/** `pier run [JOB…]`: runs the pipeline on this machine. */
export async function runCommand(jobNames: string[], options: RunOptions): Promise<number> {
  try {
    return await runPipelineCommand(jobNames, options);
  } finally {
    // Also when planning fails: the checkouts made meanwhile (see warmUpSources) go.
    await discardSpareCheckouts();
  }
}

async function runPipelineCommand(jobNames: string[], options: RunOptions): Promise<number> {
  markPhase("run command");
  process.once("exit", () => {
    const { userCPUTime, systemCPUTime } = process.resourceUsage();
    markPhase(`exit (pier's own CPU: ${((userCPUTime + systemCPUTime) / 1000).toFixed(0)} ms)`);
  });
  const repoDir = resolve(options.directory);
  const settings = await runnerSettings(options);
  const concurrency = concurrencyOf(options, settings);
  const executorName = options.executor ?? settings.executor ?? "shell";
  // The CI registry, DinD wiring and layer cache of the docker executor, for this run.
  const registryHooks = executorName === "docker" ? await registryHooksFor(settings) : undefined;
  // The engine is reached (docker) while the pipeline is planned; its error still comes first.
  const loadingExecutor = executorFor(executorName, settings, options.config, registryHooks);
  // Awaited below; an error before then must not count as unhandled.
  loadingExecutor.catch(() => undefined);
  const pipelineVariables = parseVariableFlags(options.variable);
  const stateDir = stateRoot();
  const pipelineId = allocatePipelineId(stateDir);
  // The shell jobs' checkouts of HEAD start while the pipeline is planned (errors show up
  // there). A Docker job makes its own while the engine starts its container: spawning git
  // now would only delay the container's creation.
  if (options.ref === undefined && executorName === "shell") {
    warmUpSources({
      repoDir,
      spareDir: spareCheckoutsRoot(stateDir),
      includeWorkingTreeChanges: true,
    }).catch(() => undefined);
  }
  const planning = planPipeline({
    repoDir,
    pipelineId,
    file: options.file,
    variables: pipelineVariables,
    ...(options.ref === undefined ? {} : { ref: options.ref }),
    ...(options.branch === undefined ? {} : { branch: options.branch }),
    ...(options.tag === undefined ? {} : { tag: options.tag }),
    ...(options.source === undefined ? {} : { source: options.source }),
    ...(registryHooks?.registryHost === undefined ? {} : { registry: registryHooks.registryHost }),
  });
  planning.catch(() => undefined);
  const makeExecutor = await loadingExecutor.catch((error: unknown) => {
    // Nothing ran: the run's folder, still empty, goes.
    try {
      rmdirSync(runDir(stateDir, pipelineId));
    } catch {
      // Not empty or not there: it stays.
    }
    throw error;
  });
  const plan = await planning;
  markPhase("planned");
  const expectedJobs = plan.jobs.filter((job) => job.trigger === undefined).length;
  const executor = makeExecutor(expectedJobs);
  const refProtected = plan.variables.some(
    (v) => v.key === "CI_COMMIT_REF_PROTECTED" && v.value === "true",
  );
  const projectVariables = readProjectVariables(
    options.variablesFile ?? join(configHome(), "pier", "variables.yml"),
    { required: options.variablesFile !== undefined, refProtected },
  );

  const live = process.stdout.isTTY && options.plain !== true;
  const color = process.stdout.isTTY && process.env["NO_COLOR"] === undefined;
  const reporter = createTerminalReporter({ out: process.stdout, live, color });
  for (const warning of plan.warnings) {
    reporter.onWarning?.(`${warning.file}:${warning.line}:${warning.column}: ${warning.message}`);
  }

  const cancel = new AbortController();
  const hardKill = new AbortController();
  let interrupts = 0;
  const onSignal = (): void => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(
        "\npier: canceling the pipeline (press Ctrl-C again to kill the jobs now)\n",
      );
      cancel.abort();
    } else {
      process.stderr.write("\npier: killing the jobs\n");
      hardKill.abort();
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const result = await runPipelineLocally({
      repoDir,
      pipelineId,
      plan,
      executor,
      concurrency,
      play: new Set(options.manual),
      jobNames,
      stateDir,
      projectVariables,
      pipelineVariables,
      cancel: cancel.signal,
      hardKill: hardKill.signal,
      listener: reporter,
    });
    markPhase("pipeline done");
    // The jobs are over: their checkout templates go while the summary is written.
    const discarding = discardSpareCheckouts();
    reporter.finish(result);
    if (options.report !== undefined) writeJsonReport(options.report, result);
    if (options.artifactsTo !== undefined) {
      await copyArtifactsOut({ runDir: result.runDir, to: resolve(options.artifactsTo) });
    }
    await discarding;
    markPhase("reported");
    return interrupts > 0 ? 130 : exitCodeOf(result);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await registryHooks?.close();
  }
}

async function registryHooksFor(settings: RunnerSettings): Promise<RegistryHooks> {
  const { createRegistryHooks } = await import("../../executors/docker/registry-hooks.ts");
  const { readRegistrySettings } = await import("../../executors/docker/registry-settings.ts");
  return createRegistryHooks({
    stateDir: stateRoot(),
    settings: readRegistrySettings(settings.docker),
  });
}
