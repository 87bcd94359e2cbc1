import type { ContainerExit } from "../../docker/container-types.ts";
import type { WaitCondition } from "../../docker/containers.ts";
import type { DockerClient } from "../../docker/docker-client.ts";
import type { HijackedStreams } from "../../docker/hijacked-streams.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import type { StepOutcome } from "../shell/run-step.ts";

/** After the container exited, how long its output may take to arrive. */
const OUTPUT_DRAIN_MS = 2000;

/**
 * A stage whose container is attached, watched and started, its shell waiting for the script
 * on stdin. Nothing is read from its output until the stage is run, so what the container
 * prints lands in the right section of the log.
 */
export interface BegunStage {
  streams: HijackedStreams;
  exit: Promise<ContainerExit>;
  /** Set once `exit` has settled (the container stopped, or the wait broke off). */
  readonly exited: boolean;
  /** Tears the streams and the wait down (the container is left to the caller). */
  release(): void;
  /**
   * With `watchRemoval` (an AutoRemove container): settles once the engine has removed the
   * container, rejects when the watch broke off. Outlives `release`; `stopWatchingRemoval`
   * ends it.
   */
  removed?: Promise<void>;
  stopWatchingRemoval(): void;
}

/**
 * Attach (stdin included), register the wait, start: the container's shell then waits for its
 * script, so starting can overlap the work that must finish before the script runs (sources
 * put into the container, cache and artifacts). With `watchRemoval`, a second wait watches
 * for the engine's AutoRemove, so the exit is known at once and the removal can be awaited
 * later, while other work goes on.
 */
export async function beginStage(o: {
  docker: DockerClient;
  containerId: string;
  condition?: WaitCondition;
  watchRemoval?: boolean;
  /** Called once the start request is on its way: work that must not delay it can begin. */
  onStarting?: () => void;
}): Promise<BegunStage> {
  const { docker, containerId: id } = o;
  // Aborting the signal of an attach or a wait tears its stream down: these live as long as the
  // stage, so they get a signal of their own, aborted once the stage is over.
  const stage = new AbortController();
  const removal = new AbortController();
  let streams: HijackedStreams | undefined;
  try {
    const [attached, pending, removing] = await Promise.all([
      docker.containers.attach(id, { stdin: true, signal: stage.signal }),
      docker.containers.beginWait(id, {
        condition: o.condition ?? "next-exit",
        signal: stage.signal,
      }),
      o.watchRemoval === true
        ? docker.containers.beginWait(id, { condition: "removed", signal: removal.signal })
        : undefined,
    ]);
    const removed = removing?.exit.then(() => undefined);
    removed?.catch(() => undefined);
    streams = attached;
    let exited = false;
    const exit = pending.exit.finally(() => {
      exited = true;
    });
    exit.catch(() => undefined);
    const starting = docker.containers.start(id, { signal: AbortSignal.timeout(60_000) });
    if (o.onStarting !== undefined) setImmediate(o.onStarting);
    await starting;
    const held = streams;
    return {
      streams: held,
      exit,
      get exited() {
        return exited;
      },
      release: () => {
        held.destroy();
        stage.abort();
      },
      ...(removed !== undefined && { removed }),
      stopWatchingRemoval: () => removal.abort(),
    };
  } catch (error) {
    streams?.destroy();
    stage.abort();
    removal.abort();
    throw error;
  }
}

function pipeToTrace(streams: HijackedStreams, trace: TraceWriter): void {
  for (const stream of [streams.stdout, streams.stderr]) {
    stream.on("data", (chunk: Buffer) => {
      if (!trace.write(chunk)) {
        stream.pause();
        void trace.drained().then(() => stream.resume());
      }
    });
    stream.on("error", () => {});
    // It may have been paused with output put back (see awaitMarkedLine).
    stream.resume();
  }
}

/**
 * Runs one stage in the job container, the way gitlab-runner does: attach (stdin included),
 * start, write `stdin` and close it, stream the output into the trace, wait for the exit. The
 * container is killed on timeout, cancel or hard kill. Works for a created container and for
 * one that ran a stage before (it is started again); `begun` is a stage started ahead
 * (beginStage), whose script is written now.
 */
export async function runStage(o: {
  docker: DockerClient;
  containerId: string;
  stdin: string;
  trace: TraceWriter;
  timeoutMs: number;
  cancel?: AbortSignal;
  hardKill?: AbortSignal;
  begun?: Promise<BegunStage>;
}): Promise<StepOutcome> {
  const { docker, containerId: id } = o;
  let stage: BegunStage | undefined;
  let stopReason: "timeout" | "canceled" | undefined;
  let exited = false;
  const stop = (reason: "timeout" | "canceled"): void => {
    if (exited) return;
    stopReason ??= reason;
    void docker.containers.kill(id, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
  };
  const timer = setTimeout(() => stop("timeout"), Math.min(Math.max(0, o.timeoutMs), 2 ** 31 - 1));
  const onCancel = (): void => stop("canceled");
  try {
    stage = await (o.begun ?? beginStage({ docker, containerId: id }));
    const { streams } = stage;
    pipeToTrace(streams, o.trace);
    streams.stdin.end(o.stdin);
    if (o.cancel?.aborted === true || o.hardKill?.aborted === true) onCancel();
    o.cancel?.addEventListener("abort", onCancel, { once: true });
    o.hardKill?.addEventListener("abort", onCancel, { once: true });
    const exit = await stage.exit;
    exited = true;
    const drained = await Promise.race([
      streams.outputEnded.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), OUTPUT_DRAIN_MS).unref()),
    ]);
    if (!drained) streams.destroy();
    if (stopReason !== undefined) return { kind: stopReason };
    return { kind: "exited", exitCode: exit.StatusCode };
  } catch (error) {
    if (stopReason !== undefined) return { kind: stopReason };
    return {
      kind: "spawn_failed",
      message: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(timer);
    o.cancel?.removeEventListener("abort", onCancel);
    o.hardKill?.removeEventListener("abort", onCancel);
    stage?.release();
  }
}
