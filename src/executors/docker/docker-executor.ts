import { deadlineSignal } from "../../deadline-signal.ts";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join, posix, relative } from "node:path";
import { pierVersion } from "../../cli/version.ts";
import type {
  ContainerCreateConfig,
  ContainerHostConfig,
  ContainerMount,
} from "../../docker/container-types.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import type { ImageInspect } from "../../docker/images.ts";
import type { JobSpec } from "../../job/spec.ts";
import type { DockerSettings } from "../../runner/runner-config.ts";
import { leaseSlots, type SlotLease } from "../../storage/concurrency-slots.ts";
import { makeScratchDir } from "../../storage/scratch-dirs.ts";
import { prepareSources } from "../../storage/sources.ts";
import { phrasesFor } from "../../trace/mask-phrases.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import type { ExecutionContext, Executor, JobResult } from "../executor.ts";
import type { Verdict } from "../job-stage-helpers.ts";
import {
  runJobStages,
  sourcePlanFor,
  writeCleanup,
  writeGetSources,
  type JobRun,
  type JobStages,
  type SourcePlan,
  type StepOptions,
} from "../job-stages.ts";
import { projectKeyFor } from "../shell/build-paths.ts";
import { resolveJobVariables } from "../shell/job-environment.ts";
import type { StepOutcome } from "../shell/run-step.ts";
import { shellQuote, stepScript } from "../shell/step-script.ts";
import { getContainerTree, IN_MEMORY_ARCHIVE_BYTES, putHostTree } from "./archive-transfer.ts";
import { hostTreeEntries } from "./host-tree-entries.ts";
import { packTarToBuffer } from "../../docker/tar-writer.ts";
import { containerBuildsDir, containerProjectDir } from "./container-builds-dir.ts";
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
import { startServices, waitForServices } from "./job-services.ts";
import { beginStage, runStage, type BegunStage } from "./run-stage.ts";
import { SelfContainedPacks } from "./self-contained-packs.ts";
import { buildsVolumeFor, createArchiveHelper } from "./archive-helper.ts";
import { shellDetectionCommand } from "./shell-detection.ts";
import {
  awaitMarkedLine,
  sendTreeElsewhere,
  sendTreeOnStdin,
  stdinSources,
  type StdinSources,
} from "./stdin-sources.ts";

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

/**
 * Whether the job's command runs as root straight from pier's `sh -c` (see stdinSources): no
 * entrypoint of the image or the job's own in between, which could read stdin itself or drop
 * root; the image's `USER`, or the job's `user`, root by name or id.
 */
function usesStdinSources(
  image: ImageInspect,
  entrypoint: readonly string[] | undefined,
  user: string | undefined,
): boolean {
  const noEntrypoint =
    entrypoint === undefined
      ? (image.Config.Entrypoint ?? []).length === 0
      : entrypoint.every((part) => part === "");
  const name = (user === undefined || user === "" ? image.Config.User : user).split(":")[0];
  return noEntrypoint && (name === "" || name === "root" || name === "0");
}

/** Where a step's script lives in the container, next to the project: `<project>.tmp/<step>.sh`. */
function stepScriptPath(tmpDir: string, step: "script" | "after_script"): string {
  return posix.join(tmpDir, `${step}.sh`);
}

/** How long an AutoRemove container that stopped may take to be removed by the engine. */
const AUTO_REMOVAL_WAIT_MS = 30_000;

interface JobState {
  spec: JobSpec;
  ctx: ExecutionContext;
  trace: TraceWriter;
  objects: JobObjects;
  projectKey: string;
  lease: SlotLease;
  /** Host folder mirroring the container's `/`: `<staging>/builds/<namespace>/<project>`. */
  staging: string;
  /** CI_BUILDS_DIR in the container (`builds_dir`, default `/builds`). */
  buildsDir: string;
  hostProjectDir: string;
  hostTmpDir: string;
  projectDir: string;
  tmpDir: string;
  env: Record<string, string>;
  jobSignal: AbortSignal;
  containerId?: string;
  /** The script stage, started while the sources were put in place. */
  begun?: Promise<BegunStage>;
  /** The job runs one stage only: the engine removes its container when it exits. */
  autoRemove: boolean;
  /** Set once the script stage stopped an AutoRemove container: settles when it is gone. */
  removal?: Promise<void>;
  /** The never-started container the build tree is put through (see createArchiveHelper). */
  archiveHelper?: Promise<string | undefined>;
  /** The container asks for its build tree on stdin (see stdinSources). */
  stdinSources?: StdinSources;
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
  /** Jobs between prepare and teardown. */
  #activeJobs = 0;
  #packs: SelfContainedPacks | undefined;

  constructor(options: DockerExecutorOptions) {
    this.#disableCache = options.disableCache ?? false;
    this.#docker = options.docker;
    this.#settings = options.settings;
    this.#hooks = options.hooks ?? noJobHooks;
    this.#runnerName = options.runnerName ?? hostname();
  }

  run(spec: JobSpec, ctx: ExecutionContext): Promise<JobResult> {
    return runJobStages(spec, ctx, this.#runnerName, (job) => this.#stagesFor(job));
  }

  #stagesFor(job: JobRun): JobStages {
    const { spec, ctx } = job;
    const projectKey = projectKeyFor(spec, ctx.projectDir);
    const objects = new JobObjects(this.#docker, spec, projectKey);
    /** Work started ahead that must settle before cleanup removes its folder. */
    const background: Promise<unknown>[] = [];
    let lease: SlotLease | undefined;
    let staging: string | undefined;
    let prepared: JobState | undefined;
    let active = false;
    const state = (): JobState => {
      if (prepared === undefined) throw new Error("the Docker executor's job was not prepared");
      return prepared;
    };
    return {
      get env() {
        return prepared?.env ?? {};
      },
      get hostProjectDir() {
        return state().hostProjectDir;
      },
      prepare: async () => {
        this.#activeJobs += 1;
        active = true;
        lease = await leaseSlots({ stateDir: ctx.stateDir, projectKey, signal: job.signal });
        staging = await makeScratchDir(ctx.stateDir, "docker-job");
        prepared = await this.#prepare(job, { objects, projectKey, lease, staging, background });
      },
      beforeScript: async () => {
        await this.#putBuild(state(), background);
        this.#hooks.jobContainerStarted?.();
      },
      runStep: async (step, options) => {
        const current = state();
        if (step === "after_script") return this.#runStep(current, step, options);
        const outcome = await this.#runStep(current, step, {
          ...options,
          ...(current.begun !== undefined && { begun: current.begun }),
        });
        if (current.autoRemove && outcome.kind !== "spawn_failed") {
          // The container has stopped: the engine removes it (AutoRemove) while the job ends.
          const stage = await current.begun?.catch(() => undefined);
          if (stage?.removed !== undefined) current.removal = stage.removed;
        }
        return outcome;
      },
      scriptSkipped: () => {
        prepared?.begun?.then((stage) => stage.release()).catch(() => undefined);
      },
      filesForUpload: () => this.#collectForUpload(state()),
      verdictForError: (error, how) => this.#verdictForError(error, how),
      teardown: async () => {
        if (active) this.#activeJobs -= 1;
        active = false;
        await Promise.allSettled(background);
        await this.#cleanup(job.trace, objects, staging, prepared);
        if (lease !== undefined) await lease.release().catch(() => undefined);
      },
    };
  }

  #verdictForError(
    error: unknown,
    how: { canceled: boolean; timedOut: boolean },
  ): Verdict | undefined {
    if (how.canceled) return { status: "canceled" };
    if (how.timedOut) return { status: "failed", reason: "job_execution_timeout" };
    if (error instanceof ImagePullError) {
      return { status: "failed", reason: "image_pull_failure", systemMessage: error.message };
    }
    if (error instanceof DisallowedRequestError) {
      // gitlab-runner's configuration errors reach GitLab as script failures.
      return { status: "failed", reason: "script_failure", systemMessage: error.message };
    }
    return undefined;
  }

  /** prepare_executor (image, services, the job container started early), get_sources. */
  async #prepare(
    job: JobRun,
    o: {
      objects: JobObjects;
      projectKey: string;
      lease: SlotLease;
      staging: string;
      background: Promise<unknown>[];
    },
  ): Promise<JobState> {
    const { spec, ctx, trace } = job;
    const settings = this.#settings;
    const signal = job.signal;
    const buildsDir = containerBuildsDir(ctx.buildsDir);
    const projectDir = containerProjectDir(buildsDir, spec.job_info.project_full_path);
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
      buildsDir,
      hostProjectDir,
      hostTmpDir,
      projectDir,
      tmpDir,
      env: {},
      jobSignal: signal,
      autoRemove: runsOnce(spec),
    };

    let sourcePlan: SourcePlan | undefined;
    let fetched: Promise<void> | undefined;
    // The snapshot is made while the engine starts the job container (or pulls its image, or
    // starts its services), not while pier's main thread should be creating it: a small one is
    // copied synchronously.
    const fetch = (): Promise<void> => {
      if (fetched === undefined) {
        const plan = sourcePlan ?? sourcePlanFor(job, state.env);
        fetched = signal.aborted ? Promise.resolve() : this.#fetchSources(state, plan);
        o.background.push(fetched);
        fetched.catch(() => undefined);
      }
      return fetched;
    };
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
      sourcePlan = sourcePlanFor(job, state.env);
      if (spec.services.length > 0) void fetch();

      const mounts = await this.#userVolumes(state);
      const binds = settings.volumes.filter((entry) => entry.includes(":"));
      const wantsNetwork =
        settings.networkMode === undefined &&
        (spec.services.length > 0 || this.#hooks.needsNetwork?.(spec) === true);
      if (spec.services.length > 0) {
        // Services see the build tree too, as with gitlab-runner's build volume.
        const builds = await o.objects.createVolume("builds", signal);
        mounts.push({ Type: "volume", Source: builds, Target: buildsDir });
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
        onPulling: () => void fetch(),
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

      const user = spec.image?.executor_opts?.docker?.user;
      // A command run as root by pier's own shell unpacks its build tree itself from stdin;
      // else the tree goes in by the archive API (owned by root, as gitlab-runner's helper
      // leaves it): alone, through a helper while the job container starts; with other jobs
      // running, the engine is the bottleneck and the helper would cost it more work.
      if (usesStdinSources(image, spec.image?.entrypoint, user)) {
        state.stdinSources = stdinSources(tmpDir, stepScriptPath(tmpDir, "script"));
      }
      const viaHelper = state.stdinSources === undefined && this.#activeJobs === 1;
      const buildsVolume = viaHelper ? buildsVolumeFor(shared, buildsDir, o.objects) : undefined;
      const jobMounts = [
        ...(shared.Mounts ?? []),
        ...(buildsVolume === undefined ? [] : [buildsVolume]),
      ];
      const config: ContainerCreateConfig = {
        Image: imageName,
        Cmd: shellDetectionCommand(state.stdinSources?.receiver),
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
          ...(jobMounts.length > 0 && { Mounts: jobMounts }),
          Privileged: privileged,
          NetworkMode: network?.name ?? settings.networkMode ?? "bridge",
          ...(state.autoRemove && { AutoRemove: true }),
        },
        ...(network !== undefined && {
          NetworkingConfig: { EndpointsConfig: { [network.name]: { Aliases: ["build"] } } },
        }),
      };
      if (spec.image?.entrypoint !== undefined) config.Entrypoint = spec.image.entrypoint;
      if (user !== undefined && user !== "") config.User = user;
      const Id = await o.objects.createContainer(config, `${o.objects.base}-build`, signal);
      state.containerId = Id;
      if (viaHelper) {
        state.archiveHelper = createArchiveHelper({
          objects: o.objects,
          image: image.Id,
          jobContainerId: Id,
          signal,
        }).catch(() => undefined);
        // Cleanup must see it tracked, should the job end before it is used.
        o.background.push(state.archiveHelper);
      }
      // The shell waits for its script on stdin: starting overlaps the sources work below.
      state.begun = beginStage({
        docker: this.#docker,
        containerId: Id,
        condition: "next-exit",
        watchRemoval: state.autoRemove,
        onStarting: () => void fetch(),
      });
      state.begun.catch(() => undefined);
    });

    trace.sectionStart("prepare_script", "Preparing environment");
    trace.println(`Running on ${o.objects.base}-build via ${hostname()}...`);
    trace.sectionEnd("prepare_script");
    await writeGetSources(job, sourcePlan ?? sourcePlanFor(job, state.env), fetch);
    return state;
  }

  /**
   * The build tree (sources, cache, artifacts, step scripts) into the job container, started
   * meanwhile, or through its archive helper into its build volume.
   */
  async #putBuild(state: JobState, background: Promise<unknown>[]): Promise<void> {
    await this.#writeStepScripts(state);
    if (state.stdinSources !== undefined) {
      await this.#putBuildOnStdin(state, state.stdinSources);
      return;
    }
    const begun = state.begun;
    const helper = await state.archiveHelper;
    try {
      await this.#putTree(state, helper ?? state.containerId ?? "");
    } catch (error) {
      // A container whose entrypoint exited at once: the script stage reports its exit code.
      const stage = await begun?.catch(() => undefined);
      if (stage?.exited !== true) throw error;
    }
    if (helper !== undefined) {
      // Left to cleanup (still tracked) should this fail.
      background.push(this.#removeArchiveHelper(state.objects, helper).catch(() => undefined));
    }
  }

  /**
   * The build tree through the started container's stdin when it can unpack it (and the tree
   * fits in memory), else by the archive API into the running container.
   */
  async #putBuildOnStdin(state: JobState, receiving: StdinSources): Promise<void> {
    const tree = hostTreeEntries(state.staging, [this.#buildsTopFolder(state)]);
    const archive =
      tree.fileBytes <= IN_MEMORY_ARCHIVE_BYTES ? packTarToBuffer(tree.inMemory()) : undefined;
    archive?.catch(() => undefined);
    // A container that did not start: the script stage reports why.
    const stage = await state.begun?.catch(() => undefined);
    if (stage === undefined) return;
    const asked = await awaitMarkedLine(stage.streams, receiving.marker, state.jobSignal);
    // A container that stopped at once: the script stage reports how (its exit code).
    for (const chunk of asked.unread) state.trace.write(chunk);
    if (asked.word === undefined) return;
    if (asked.word === "stdin" && archive !== undefined) {
      // The container runs the script step as soon as the tree is in (see stdinSources).
      sendTreeOnStdin(stage.streams, await archive);
      return;
    }
    await this.#putTree(state, state.containerId ?? "");
    sendTreeElsewhere(stage.streams);
  }

  /** The top folder of the builds dir: the staging folder holds nothing else under it. */
  #buildsTopFolder(state: JobState): string {
    return state.buildsDir.split("/")[1] ?? "builds";
  }

  #putTree(state: JobState, containerId: string): Promise<void> {
    return putHostTree({
      docker: this.#docker,
      containerId,
      hostDir: state.staging,
      entries: [this.#buildsTopFolder(state)],
      containerPath: "/",
      signal: state.jobSignal,
    });
  }

  /**
   * The helper goes at once. With its volumes: the job's anonymous build volume is removed by
   * whichever of the two containers goes last (the engine keeps a volume still in use).
   */
  async #removeArchiveHelper(objects: JobObjects, id: string): Promise<void> {
    await this.#docker.containers.remove(id, {
      force: true,
      volumes: true,
      ignoreMissing: true,
      signal: AbortSignal.timeout(60_000),
    });
    objects.forgetContainer(id);
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
      CI_BUILDS_DIR: state.buildsDir,
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
      this.#packs ??= new SelfContainedPacks(state.ctx.stateDir);
      await this.#packs.apply(state.hostProjectDir, state.jobSignal);
    }
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

  /**
   * An AutoRemove container that stopped: wait (a while) for the engine to remove it, so
   * cleanup neither races the engine nor leaves it behind; else cleanup removes it by force.
   */
  async #awaitAutoRemoval(state: JobState | undefined): Promise<void> {
    const begun = state?.begun?.catch(() => undefined);
    try {
      if (state?.removal === undefined || state.containerId === undefined) return;
      const timeout = AbortSignal.timeout(AUTO_REMOVAL_WAIT_MS);
      const gone = await Promise.race([
        state.removal.then(
          () => true,
          () => false,
        ),
        new Promise<false>((resolve) => timeout.addEventListener("abort", () => resolve(false))),
      ]);
      if (gone) state.objects.forgetContainer(state.containerId);
    } finally {
      (await begun)?.stopWatchingRemoval();
    }
  }

  /** Starts the job container (again) with one step's script; CI_JOB_STATUS for after_script. */
  #runStep(
    state: JobState,
    step: "script" | "after_script",
    options: StepOptions & { begun?: Promise<BegunStage> },
  ): Promise<StepOutcome> {
    const path = stepScriptPath(state.tmpDir, step);
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
  async #collectForUpload(state: JobState): Promise<string | undefined> {
    if (state.containerId === undefined) return undefined;
    // Not a name a builds dir's top folder would take: the two share the staging folder.
    const target = join(state.staging, ".pier-collected");
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

  async #cleanup(
    trace: TraceWriter,
    objects: JobObjects,
    staging: string | undefined,
    state: JobState | undefined,
  ): Promise<void> {
    await writeCleanup(trace, async () => {
      const [problems] = await Promise.all([
        this.#awaitAutoRemoval(state).then(() =>
          objects.cleanup(async () => {
            const network = objects.network;
            if (network !== undefined) await this.#hooks.jobFinished(network);
          }),
        ),
        staging === undefined
          ? Promise.resolve()
          : rm(staging, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined),
      ]);
      for (const problem of problems) trace.warning(`Cleanup: ${problem}`);
    });
  }
}
