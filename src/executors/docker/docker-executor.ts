import { deadlineSignal } from "../../deadline-signal.ts";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, posix, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { pierVersion } from "../../cli/version.ts";
import type {
  ContainerCreateConfig,
  ContainerHostConfig,
  ContainerMount,
} from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import type { JobSpec } from "../../job/spec.ts";
import type { DockerSettings } from "../../runner/runner-config.ts";
import { whenAllows, type JobOutcome } from "../../storage/artifacts.ts";
import { restoreCache, saveCache } from "../../storage/cache.ts";
import { leaseSlots, type SlotLease } from "../../storage/concurrency-slots.ts";
import { runGit } from "../../storage/run-git.ts";
import { prepareSources, type GitStrategy } from "../../storage/sources.ts";
import { formatGoDuration, writeJobHeader } from "../../trace/job-messages.ts";
import { phrasesFor } from "../../trace/mask-phrases.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import type { ExecutionContext, Executor, JobResult } from "../executor.ts";
import {
  cacheWhenMatches,
  errorMessage,
  gitStrategy,
  isAbort,
  logStorageLine,
  writeVerdict,
  type JobStatus,
  type Verdict,
} from "../job-stage-helpers.ts";
import { projectKeyFor } from "../shell/build-paths.ts";
import { parseGoDuration } from "../shell/go-duration.ts";
import { resolveJobVariables } from "../shell/job-environment.ts";
import type { StepOutcome } from "../shell/run-step.ts";
import { shellQuote, stepScript } from "../shell/step-script.ts";
import { getContainerTree, putHostTree } from "./archive-transfer.ts";
import { cacheVolumePaths, pathDigest, persistentCacheMounts } from "./cache-volumes.ts";
import { ensureImage, ImagePullError } from "./ensure-image.ts";
import {
  checkAllowedImage,
  DisallowedRequestError,
  privilegeFor,
  pullPoliciesFor,
} from "./image-rules.ts";
import { noJobHooks, type DockerJobHooks } from "./job-hooks.ts";
import { JobObjects } from "./job-objects.ts";
import { ServiceNotReadyError, startServices, waitForServices } from "./job-services.ts";
import { beginStage, runStage, type BegunStage } from "./run-stage.ts";
import { shellDetectionCommand } from "./shell-detection.ts";

export interface DockerExecutorOptions {
  docker: DockerClient;
  settings: DockerSettings;
  /** The CI registry, DinD wiring and layer cache plug in here. */
  hooks?: DockerJobHooks;
  /** Shown in the log header ("on <name>"). */
  runnerName?: string;
  /** `disable_cache`: `"/path"` volumes live for one job instead of persisting per project. */
  disableCache?: boolean;
}

const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 5 * 60_000;
const BUILDS_DIR = "/builds";

/**
 * Local snapshots borrow the user's objects through git alternates, a host path the container
 * does not have: copy the objects the checkout needs into the snapshot and drop the link.
 */
async function selfContainedRepository(projectDir: string, signal: AbortSignal): Promise<void> {
  const alternates = join(projectDir, ".git", "objects", "info", "alternates");
  if (!existsSync(alternates)) return;
  await runGit(["repack", "-a", "-d", "-q"], { cwd: projectDir, signal });
  await rm(alternates, { force: true });
}

/**
 * A job with no after_script and nothing to copy out afterwards (artifacts, a cache to save)
 * runs one stage: its container can be removed by the engine as it exits, as `docker run --rm`.
 */
function runsOnce(spec: JobSpec): boolean {
  const afterScript = spec.steps.find((step) => step.name === "after_script");
  return (
    (afterScript === undefined || afterScript.script.every((line) => line.trim() === "")) &&
    spec.artifacts.length === 0 &&
    spec.cache.every((cache) => cache.policy === "pull")
  );
}

/** Where the job's files live in the container: `/builds/<namespace>/<project>`. */
function containerProjectDir(projectPath: string): string {
  const safe = projectPath
    .split("/")
    .filter((part) => part !== "" && part !== "." && part !== "..")
    .join("/");
  return posix.join(BUILDS_DIR, safe === "" ? "project" : safe);
}

interface SourcePlan {
  strategy: GitStrategy;
  depth: number;
  includeChanges: boolean;
}

interface JobState {
  spec: JobSpec;
  ctx: ExecutionContext;
  trace: TraceWriter;
  objects: JobObjects;
  projectKey: string;
  lease: SlotLease;
  /** Host folder mirroring the container's `/`: `<staging>/builds/<namespace>/<project>`. */
  staging: string;
  hostProjectDir: string;
  hostTmpDir: string;
  projectDir: string;
  tmpDir: string;
  env: Record<string, string>;
  deadline: number;
  jobSignal: AbortSignal;
  containerId?: string;
  /** The script stage, started while the sources were put in place. */
  begun?: Promise<BegunStage>;
  /** The job runs one stage only: the engine removes its container when it exits. */
  autoRemove: boolean;
}

/**
 * Runs a JobSpec in containers, the way gitlab-runner's Docker executor does: services on a
 * network of the job's own, the project put into the job container through the archive API,
 * the script fed to bash (or sh) on stdin, artifacts and cache copied back out, and every
 * container, network and volume of the job removed at the end, whatever happened.
 */
export class DockerExecutor implements Executor {
  readonly name = "docker";
  readonly #docker: DockerClient;
  readonly #settings: DockerSettings;
  readonly #hooks: DockerJobHooks;
  readonly #runnerName: string;
  readonly #disableCache: boolean;

  constructor(options: DockerExecutorOptions) {
    this.#disableCache = options.disableCache ?? false;
    this.#docker = options.docker;
    this.#settings = options.settings;
    this.#hooks = options.hooks ?? noJobHooks;
    this.#runnerName = options.runnerName ?? hostname();
  }

  async run(spec: JobSpec, ctx: ExecutionContext): Promise<JobResult> {
    const started = performance.now();
    const { trace } = ctx;
    const deadline = Date.now() + spec.runner_info.timeout * 1000;
    const jobAbort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        jobAbort.abort(new DOMException("job timeout", "TimeoutError"));
      },
      Math.min(spec.runner_info.timeout * 1000, 2 ** 31 - 1),
    );
    const onCancel = (): void => jobAbort.abort(ctx.signal.reason);
    if (ctx.signal.aborted) onCancel();
    ctx.signal.addEventListener("abort", onCancel, { once: true });

    const projectKey = projectKeyFor(spec, ctx.projectDir);
    const objects = new JobObjects(this.#docker, spec, projectKey);
    const background: Promise<unknown>[] = [];
    let lease: SlotLease | undefined;
    let staging: string | undefined;
    let result: Verdict;
    let dotenv: Record<string, string> | undefined;
    try {
      writeJobHeader(trace, this.#runnerName);
      lease = await leaseSlots({ stateDir: ctx.stateDir, projectKey, signal: jobAbort.signal });
      const tmpRoot = join(ctx.stateDir, "tmp");
      await mkdir(tmpRoot, { recursive: true });
      staging = await mkdtemp(join(tmpRoot, "docker-job-"));
      const state = await this.#prepare(spec, ctx, {
        objects,
        projectKey,
        lease,
        staging,
        deadline,
        jobSignal: jobAbort.signal,
        background,
      });
      result = await this.#runJob(state);
      if (result.status !== "canceled") {
        const succeeded = result.status === "success";
        const collected = await this.#collectForUpload(state, succeeded);
        if (collected !== undefined) {
          await this.#archiveCache(state, collected, succeeded);
          const uploaded = await this.#uploadArtifacts(
            state,
            collected,
            succeeded ? "success" : "failed",
          );
          dotenv = uploaded.dotenv;
          if (uploaded.error !== undefined && succeeded) {
            result = { status: "failed", reason: "unknown_failure", systemMessage: uploaded.error };
          }
        }
      }
    } catch (error) {
      result = this.#verdictForError(error, ctx, timedOut);
    } finally {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", onCancel);
    }

    await Promise.allSettled(background);
    await this.#cleanup(trace, objects, staging);
    if (lease !== undefined) await lease.release().catch(() => undefined);
    writeVerdict(trace, result, spec.runner_info.timeout);
    return {
      status: result.status,
      ...(result.exitCode !== undefined && { exitCode: result.exitCode }),
      ...(result.reason !== undefined && { failureReason: result.reason }),
      durationMs: Math.round(performance.now() - started),
      ...(dotenv !== undefined && { dotenv }),
    };
  }

  #verdictForError(error: unknown, ctx: ExecutionContext, timedOut: boolean): Verdict {
    if (ctx.signal.aborted && (isAbort(error) || ctx.hardKill?.aborted === true)) {
      return { status: "canceled" };
    }
    if (ctx.signal.aborted) return { status: "canceled" };
    if (timedOut) return { status: "failed", reason: "job_execution_timeout" };
    if (error instanceof ImagePullError) {
      return { status: "failed", reason: "image_pull_failure", systemMessage: error.message };
    }
    if (error instanceof DisallowedRequestError) {
      // gitlab-runner's configuration errors reach GitLab as script failures.
      return { status: "failed", reason: "script_failure", systemMessage: error.message };
    }
    if (error instanceof ServiceNotReadyError) {
      return { status: "failed", reason: "runner_system_failure", systemMessage: error.message };
    }
    return {
      status: "failed",
      reason: "runner_system_failure",
      systemMessage: errorMessage(error),
    };
  }

  async #prepare(
    spec: JobSpec,
    ctx: ExecutionContext,
    o: {
      objects: JobObjects;
      projectKey: string;
      lease: SlotLease;
      staging: string;
      deadline: number;
      jobSignal: AbortSignal;
      /** Work started ahead that must settle before cleanup removes its folder. */
      background: Promise<unknown>[];
    },
  ): Promise<JobState> {
    const { trace } = ctx;
    const settings = this.#settings;
    const signal = o.jobSignal;
    const projectDir = containerProjectDir(spec.job_info.project_full_path);
    const tmpDir = `${projectDir}.tmp`;
    const hostProjectDir = join(o.staging, projectDir);
    const hostTmpDir = join(o.staging, tmpDir);

    const state: JobState = {
      spec,
      ctx,
      trace,
      objects: o.objects,
      projectKey: o.projectKey,
      lease: o.lease,
      staging: o.staging,
      hostProjectDir,
      hostTmpDir,
      projectDir,
      tmpDir,
      env: {},
      deadline: o.deadline,
      jobSignal: signal,
      autoRemove: runsOnce(spec),
    };

    let sourcePlan: SourcePlan | undefined;
    let fetched: Promise<void> = Promise.resolve();
    const imageName = spec.image?.name ?? settings.image;
    await trace.section("prepare_executor", 'Preparing the "docker" executor', async () => {
      if (imageName === undefined || imageName === "") {
        throw new DisallowedRequestError(
          "no Docker image specified to run the build in (set image: in the job or image in [runners.docker])",
        );
      }
      trace.println(`Using Docker executor with image ${imageName} ...`);
      checkAllowedImage(imageName, "image", settings);
      const privileged = privilegeFor(imageName, "image", settings);
      state.env = await this.#resolveEnvironment(state);
      sourcePlan = this.#sourcePlan(state);
      fetched = this.#fetchSources(state, sourcePlan);
      o.background.push(fetched);
      fetched.catch(() => undefined);

      const mounts = await this.#userVolumes(state);
      const binds = settings.volumes.filter((entry) => entry.includes(":"));
      const wantsNetwork =
        settings.networkMode === undefined &&
        (spec.services.length > 0 || this.#hooks.needsNetwork?.(spec) === true);
      if (spec.services.length > 0) {
        // Services see the build tree too, as with gitlab-runner's build volume.
        const builds = await o.objects.createVolume("builds", signal);
        mounts.push({ Type: "volume", Source: builds, Target: BUILDS_DIR });
      }
      const shared: ContainerHostConfig = {
        ...this.#resourceLimits(),
        ...(mounts.length > 0 && { Mounts: mounts }),
        ...(binds.length > 0 && { Binds: binds }),
      };

      const pulling = ensureImage({
        docker: this.#docker,
        reference: imageName,
        policies: pullPoliciesFor(spec.image?.pull_policy, settings),
        spec,
        trace,
        signal,
      });
      pulling.catch(() => undefined);
      let network: { id: string; name: string } | undefined;
      if (wantsNetwork) {
        network = await o.objects.createNetwork(signal);
        await this.#hooks.networkReady(network, signal);
      } else if (settings.networkMode !== undefined && spec.services.length > 0) {
        if (["bridge", "default", "host", "none"].includes(settings.networkMode)) {
          throw new DisallowedRequestError(
            `services need a user-defined network for their aliases; network_mode "${settings.networkMode}" has none`,
          );
        }
        network = { id: settings.networkMode, name: settings.networkMode };
      }
      if (network !== undefined && spec.services.length > 0) {
        const services = await startServices({
          docker: this.#docker,
          spec,
          settings,
          objects: o.objects,
          network,
          hostConfig: shared,
          jobEnv: state.env,
          hooks: this.#hooks,
          projectKey: o.projectKey,
          trace,
          signal,
        });
        await waitForServices({
          docker: this.#docker,
          services,
          settings,
          objects: o.objects,
          network,
          spec,
          trace,
          signal,
        });
      }
      const image = await pulling;
      trace.println(`Using docker image ${image.Id} for ${imageName} ...`);

      const config: ContainerCreateConfig = {
        Image: imageName,
        Cmd: shellDetectionCommand(),
        Env: Object.entries(state.env).map(([key, value]) => `${key}=${value}`),
        Labels: o.objects.labelsFor("build"),
        WorkingDir: projectDir,
        Tty: false,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: {
          ...shared,
          Privileged: privileged,
          NetworkMode: network?.name ?? settings.networkMode ?? "bridge",
          ...(state.autoRemove && { AutoRemove: true }),
        },
        ...(network !== undefined && {
          NetworkingConfig: { EndpointsConfig: { [network.name]: { Aliases: ["build"] } } },
        }),
      };
      if (spec.image?.entrypoint !== undefined) config.Entrypoint = spec.image.entrypoint;
      const user = spec.image?.executor_opts?.docker?.user;
      if (user !== undefined && user !== "") config.User = user;
      const { Id } = await this.#docker.containers.create(config, {
        name: `${o.objects.base}-build`,
        signal,
      });
      o.objects.trackContainer(Id);
      state.containerId = Id;
      // The shell waits for its script on stdin: starting overlaps the sources work below.
      state.begun = beginStage({
        docker: this.#docker,
        containerId: Id,
        condition: state.autoRemove ? "removed" : "next-exit",
      });
      state.begun.catch(() => undefined);
    });

    trace.sectionStart("prepare_script", "Preparing environment");
    trace.println(`Running on ${o.objects.base}-build via ${hostname()}...`);
    trace.sectionEnd("prepare_script");
    await this.#getSources(state, sourcePlan ?? this.#sourcePlan(state), fetched);
    await this.#restoreCaches(state);
    await this.#downloadArtifacts(state);
    await this.#writeStepScripts(state);
    const begun = state.begun;
    try {
      await putHostTree({
        docker: this.#docker,
        containerId: state.containerId ?? "",
        hostDir: o.staging,
        entries: [BUILDS_DIR.slice(1)],
        containerPath: "/",
        signal,
      });
    } catch (error) {
      // A container whose entrypoint exited at once: the script stage reports its exit code.
      const stage = await begun?.catch(() => undefined);
      if (stage?.exited !== true) throw error;
    }
    return state;
  }

  /**
   * `"/path"` entries of `volumes`, shared with the services: persistent volumes per project
   * and slot (as gitlab-runner's cache volumes), or one volume per job with `disable_cache` and
   * for the DinD certificates (`$DOCKER_TLS_CERTDIR`, `/certs/client`).
   */
  async #userVolumes(state: JobState): Promise<ContainerMount[]> {
    const paths = cacheVolumePaths(this.#settings.volumes);
    if (paths.length === 0) return [];
    const signal = state.jobSignal;
    // Each DinD daemon makes a new CA: client certificates kept from the last one would not match.
    const certDir = state.env["DOCKER_TLS_CERTDIR"] || "/certs";
    const perJob = (path: string): boolean =>
      this.#disableCache || path === certDir || path.startsWith(`${certDir}/`);
    const [persistent, fresh] = await Promise.all([
      persistentCacheMounts({
        docker: this.#docker,
        paths: paths.filter((path) => !perJob(path)),
        stateDir: state.ctx.stateDir,
        projectPath: state.spec.job_info.project_full_path,
        projectKey: state.projectKey,
        slot: state.lease.projectConcurrentId,
        signal,
      }),
      Promise.all(
        paths.filter(perJob).map(async (path) => {
          const name = await state.objects.createVolume(`volume-${pathDigest(path)}`, signal);
          return { Type: "volume" as const, Source: name, Target: path };
        }),
      ),
    ]);
    return [...persistent, ...fresh];
  }

  #resourceLimits(): ContainerHostConfig {
    const s = this.#settings;
    return {
      ...(s.memory !== undefined && { Memory: s.memory }),
      ...(s.nanoCpus !== undefined && { NanoCpus: s.nanoCpus }),
      ...(s.shmSize !== undefined && { ShmSize: s.shmSize }),
      ...(s.extraHosts.length > 0 && { ExtraHosts: s.extraHosts }),
      ...(s.dns.length > 0 && { Dns: s.dns }),
      ...(s.dnsSearch.length > 0 && { DnsSearch: s.dnsSearch }),
      ...(s.capAdd.length > 0 && { CapAdd: s.capAdd }),
      ...(s.capDrop.length > 0 && { CapDrop: s.capDrop }),
    };
  }

  /** The job's variables as the container sees them; file variables live in `<project>.tmp/`. */
  async #resolveEnvironment(state: JobState): Promise<Record<string, string>> {
    const { spec, trace } = state;
    const runnerOwned: Record<string, string> = {
      CI_SERVER: "yes",
      CI_RUNNER_VERSION: pierVersion(),
      CI_RUNNER_REVISION: "",
      CI_RUNNER_DESCRIPTION: this.#runnerName,
      CI_RUNNER_TAGS: "",
      CI_RUNNER_EXECUTABLE_ARCH: `${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
      CI_BUILDS_DIR: BUILDS_DIR,
      CI_PROJECT_DIR: state.projectDir,
      CI_CONCURRENT_ID: String(state.lease.concurrentId),
      CI_CONCURRENT_PROJECT_ID: String(state.lease.projectConcurrentId),
      CI_DISPOSABLE_ENVIRONMENT: "true",
      CI_JOB_STATUS: "running",
    };
    const extra = await this.#hooks.variables(spec);
    const resolved = await resolveJobVariables({
      variables: [...extra, ...spec.variables],
      base: runnerOwned,
      tmpDir: state.hostTmpDir,
    });
    for (const variable of [...extra, ...spec.variables]) {
      const value = resolved.env[variable.key];
      if (variable.masked && !variable.file && value !== undefined) {
        trace.addMaskPhrases(phrasesFor(value));
      }
    }
    const env: Record<string, string> = { ...resolved.env, ...runnerOwned };
    const files = new Set(resolved.files);
    for (const [key, value] of Object.entries(env)) {
      if (files.has(value)) env[key] = posix.join(state.tmpDir, relative(state.hostTmpDir, value));
    }
    return env;
  }

  #sourcePlan(state: JobState): SourcePlan {
    const { env, spec } = state;
    const strategy = gitStrategy(env["GIT_STRATEGY"], spec.allow_git_fetch);
    const depthText = env["GIT_DEPTH"];
    const depth =
      depthText !== undefined && /^\d+$/.test(depthText.trim())
        ? Number(depthText)
        : spec.git_info.depth;
    const includeChanges =
      state.ctx.projectDir !== undefined && (state.ctx.includeWorkingTreeChanges ?? true);
    return { strategy, depth, includeChanges };
  }

  /** The snapshot on the host; started early so it overlaps pulling and creating containers. */
  async #fetchSources(state: JobState, plan: SourcePlan): Promise<void> {
    await mkdir(state.hostProjectDir, { recursive: true });
    await prepareSources({
      ...(state.ctx.projectDir !== undefined && { repoDir: state.ctx.projectDir }),
      gitInfo: state.spec.git_info,
      strategy: plan.strategy,
      depth: plan.depth,
      target: state.hostProjectDir,
      includeWorkingTreeChanges: plan.includeChanges,
      signal: state.jobSignal,
    });
    if (plan.strategy === "clone" || plan.strategy === "fetch") {
      await selfContainedRepository(state.hostProjectDir, state.jobSignal);
    }
  }

  async #getSources(state: JobState, plan: SourcePlan, fetched: Promise<void>): Promise<void> {
    const { trace, spec } = state;
    const { strategy, depth, includeChanges } = plan;
    await trace.section("get_sources", "Getting source from Git repository", async () => {
      if (strategy === "none") {
        trace.println("Skipping Git repository setup");
      } else if (strategy === "empty") {
        trace.println("Skipping Git repository setup and creating an empty build directory");
      } else {
        const how = strategy === "fetch" ? "Fetching changes" : "Cloning repository";
        trace.notice(depth > 0 ? `${how} with git depth set to ${depth}...` : `${how}...`);
      }
      await fetched;
      if (strategy === "clone" || strategy === "fetch") {
        const sha = spec.git_info.sha.slice(0, 8);
        trace.notice(`Checking out ${sha} as detached HEAD (ref is ${spec.git_info.ref})...`);
        if (includeChanges) trace.println("Including uncommitted changes from the working tree");
      }
    });
  }

  async #restoreCaches(state: JobState): Promise<void> {
    const caches = state.spec.cache.filter((cache) => cache.policy !== "push");
    if (caches.length === 0) return;
    const { trace } = state;
    await trace.section("restore_cache", "Restoring cache", async () => {
      for (const cache of caches) {
        try {
          await restoreCache({
            cacheDir: state.ctx.cacheDir,
            cache,
            projectDir: state.hostProjectDir,
            signal: state.jobSignal,
            log: (line) => logStorageLine(trace, line),
          });
        } catch (error) {
          if (isAbort(error)) throw error;
          trace.warning(`Failed to extract cache: ${errorMessage(error)}`);
        }
      }
    });
  }

  async #downloadArtifacts(state: JobState): Promise<void> {
    const deps = state.spec.dependencies.filter((dep) => dep.artifacts_file !== undefined);
    if (deps.length === 0) return;
    const { trace } = state;
    await trace.section("download_artifacts", "Downloading artifacts", async () => {
      for (const dep of deps) {
        trace.notice(`Downloading artifacts for ${dep.name} (${dep.id})...`);
        await state.ctx.artifacts.download(dep, state.hostProjectDir, state.jobSignal);
      }
    });
  }

  /** The step scripts go into `<project>.tmp/` with the build tree, in the same archive. */
  async #writeStepScripts(state: JobState): Promise<void> {
    await mkdir(state.hostTmpDir, { recursive: true });
    const debugTrace = state.env["CI_DEBUG_TRACE"] === "true";
    for (const step of state.spec.steps) {
      if (step.name !== "script" && step.name !== "after_script") continue;
      const script = stepScript({
        shell: "sh",
        commands: step.script,
        ...(step.name === "after_script" && { notice: "Running after script..." }),
        debugTrace,
      });
      await writeFile(
        join(state.hostTmpDir, `${step.name}.sh`),
        `cd ${shellQuote(state.projectDir)} || exit 1\n${script}`,
        { mode: 0o755 },
      );
    }
  }

  async #runJob(state: JobState): Promise<Verdict> {
    const { trace, spec, ctx } = state;
    const script = spec.steps.find((step) => step.name === "script");
    const afterScript = spec.steps.find((step) => step.name === "after_script");

    trace.sectionStart("step_script", 'Executing "step_script" stage of the job script');
    let outcome: StepOutcome = { kind: "exited", exitCode: 0 };
    const scriptLimit = parseGoDuration(state.env["RUNNER_SCRIPT_TIMEOUT"] ?? "");
    const remaining = state.deadline - Date.now();
    const byScriptLimit = scriptLimit !== undefined && scriptLimit > 0 && scriptLimit < remaining;
    if (script !== undefined) {
      outcome = await this.#runStep(state, "script", {
        timeoutMs: byScriptLimit ? scriptLimit : remaining,
        cancel: ctx.signal,
        ...(state.begun !== undefined && { begun: state.begun }),
      });
      // The engine removed the container on its way out (AutoRemove, waited for).
      if (state.autoRemove && outcome.kind === "exited" && state.containerId !== undefined) {
        state.objects.forgetContainer(state.containerId);
      }
    } else {
      state.begun?.then((stage) => stage.release()).catch(() => undefined);
    }
    trace.sectionEnd("step_script");

    let result: Verdict;
    switch (outcome.kind) {
      case "exited":
        result =
          outcome.exitCode === 0
            ? { status: "success" }
            : { status: "failed", reason: "script_failure", exitCode: outcome.exitCode };
        break;
      case "timeout":
        result = {
          status: "failed",
          reason: "job_execution_timeout",
          ...(byScriptLimit && { timeoutSeconds: scriptLimit / 1000 }),
        };
        break;
      case "canceled":
        result = { status: "canceled" };
        break;
      case "spawn_failed":
        result = {
          status: "failed",
          reason: "runner_system_failure",
          systemMessage: outcome.message,
        };
        break;
    }

    const wantsAfterScript =
      afterScript !== undefined &&
      afterScript.script.some((line) => line.trim() !== "") &&
      ctx.hardKill?.aborted !== true &&
      outcome.kind !== "spawn_failed";
    if (wantsAfterScript) {
      trace.sectionStart("after_script", "Running after_script");
      const limit = parseGoDuration(state.env["RUNNER_AFTER_SCRIPT_TIMEOUT"] ?? "");
      const timeoutMs = limit !== undefined && limit > 0 ? limit : DEFAULT_AFTER_SCRIPT_TIMEOUT_MS;
      const after = await this.#runStep(state, "after_script", {
        timeoutMs,
        // gitlab-runner (since 17.1) tells after_script a timeout apart from a failure.
        jobStatus: result.reason === "job_execution_timeout" ? "timedout" : result.status,
      });
      if (after.kind === "exited" && after.exitCode !== 0) {
        trace.warning(
          `after_script failed, but job will continue unaffected: exit code ${after.exitCode}`,
        );
      } else if (after.kind === "timeout") {
        trace.warning(
          `after_script failed, but job will continue unaffected: execution took longer than ${formatGoDuration(timeoutMs / 1000)} seconds`,
        );
      }
      trace.sectionEnd("after_script");
    }
    return result;
  }

  /** Starts the job container (again) with one step's script; CI_JOB_STATUS for after_script. */
  #runStep(
    state: JobState,
    step: "script" | "after_script",
    options: {
      timeoutMs: number;
      cancel?: AbortSignal;
      jobStatus?: JobStatus | "timedout";
      begun?: Promise<BegunStage>;
    },
  ): Promise<StepOutcome> {
    const path = posix.join(state.tmpDir, `${step}.sh`);
    // The shell reads this line from stdin; `$0` is the shell the detection picked.
    const status =
      options.jobStatus === undefined ? "" : `export CI_JOB_STATUS=${options.jobStatus}; `;
    return runStage({
      docker: this.#docker,
      containerId: state.containerId ?? "",
      // umask 0000 as gitlab-runner's (FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR off): what the job
      // writes stays writable for a later step or a service running as another user.
      stdin: `umask 0000; ${status}exec "$0" ${shellQuote(path)} </dev/null\n`,
      ...(options.begun !== undefined && { begun: options.begun }),
      trace: state.trace,
      timeoutMs: options.timeoutMs,
      ...(options.cancel !== undefined && { cancel: options.cancel }),
      ...(state.ctx.hardKill !== undefined && { hardKill: state.ctx.hardKill }),
    });
  }

  /**
   * Copies the project directory out of the container into a fresh host folder when a cache
   * or an artifact will be saved, so storage works on the files as the job left them.
   */
  async #collectForUpload(state: JobState, succeeded: boolean): Promise<string | undefined> {
    const outcome: JobOutcome = succeeded ? "success" : "failed";
    const wanted =
      state.spec.cache.some((c) => c.policy !== "pull" && cacheWhenMatches(c, succeeded)) ||
      state.spec.artifacts.some((a) => whenAllows(a.when, outcome));
    if (!wanted || state.containerId === undefined) return undefined;
    const target = join(state.staging, "collected");
    const deadline = deadlineSignal(state.ctx.signal, 30 * 60_000);
    const found = await getContainerTree({
      docker: this.#docker,
      containerId: state.containerId,
      containerPath: state.projectDir,
      hostDir: target,
      signal: deadline.signal,
    }).finally(() => deadline.dispose());
    if (!found) await mkdir(target, { recursive: true });
    return target;
  }

  async #archiveCache(state: JobState, projectDir: string, succeeded: boolean): Promise<void> {
    const caches = state.spec.cache.filter(
      (cache) => cache.policy !== "pull" && cacheWhenMatches(cache, succeeded),
    );
    if (caches.length === 0) return;
    const { trace } = state;
    const section = succeeded ? "archive_cache" : "archive_cache_on_failure";
    const title = succeeded ? "Saving cache for successful job" : "Saving cache for failed job";
    await trace.section(section, title, async () => {
      for (const cache of caches) {
        try {
          await saveCache({
            cacheDir: state.ctx.cacheDir,
            cache,
            projectDir,
            jobSucceeded: succeeded,
            signal: state.ctx.signal,
            log: (line) => logStorageLine(trace, line),
          });
        } catch (error) {
          if (isAbort(error)) throw error;
          trace.warning(`Failed to create cache: ${errorMessage(error)}`);
        }
      }
    });
  }

  async #uploadArtifacts(
    state: JobState,
    projectDir: string,
    outcome: JobOutcome,
  ): Promise<{ dotenv?: Record<string, string>; error?: string }> {
    const artifacts = state.spec.artifacts.filter((artifact) => whenAllows(artifact.when, outcome));
    if (artifacts.length === 0) return {};
    const { trace, spec } = state;
    const section =
      outcome === "success" ? "upload_artifacts_on_success" : "upload_artifacts_on_failure";
    const title =
      outcome === "success"
        ? "Uploading artifacts for successful job"
        : "Uploading artifacts for failed job";
    return trace.section(section, title, async () => {
      let dotenv: Record<string, string> | undefined;
      for (const artifact of artifacts) {
        const type = artifact.artifact_type;
        trace.notice("Uploading artifacts...");
        try {
          const uploaded = await state.ctx.artifacts.upload(
            { id: spec.id, name: spec.job_info.name, outcome },
            artifact,
            projectDir,
            state.ctx.signal,
          );
          for (const info of uploaded.infos) trace.println(info);
          for (const warning of uploaded.warnings) trace.warning(warning);
          for (const error of uploaded.errors) trace.error(error);
          if (!uploaded.skipped && uploaded.files > 0) {
            trace.println(`Uploading artifacts as "${type}" to the run's folder... ok`);
          }
          if (uploaded.dotenv !== undefined) dotenv = { ...dotenv, ...uploaded.dotenv };
        } catch (error) {
          if (isAbort(error)) throw error;
          const text = `Uploading artifacts as "${type}" failed: ${errorMessage(error)}`;
          trace.error(text);
          return { ...(dotenv !== undefined && { dotenv }), error: text };
        }
      }
      return dotenv === undefined ? {} : { dotenv };
    });
  }

  async #cleanup(
    trace: TraceWriter,
    objects: JobObjects,
    staging: string | undefined,
  ): Promise<void> {
    trace.sectionStart(
      "cleanup_file_variables",
      "Cleaning up project directory and file based variables",
    );
    const [problems] = await Promise.all([
      objects.cleanup(async () => {
        const network = objects.network;
        if (network !== undefined) await this.#hooks.jobFinished(network);
      }),
      staging === undefined
        ? Promise.resolve()
        : rm(staging, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined),
    ]);
    for (const problem of problems) trace.warning(`Cleanup: ${problem}`);
    trace.sectionEnd("cleanup_file_variables");
  }
}
