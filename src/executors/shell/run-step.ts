import { spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { markPhase } from "../../trace/phase-timing.ts";
import type { TraceWriter } from "../../trace/trace-writer.ts";
import {
  forkCount,
  killMarkedProcesses,
  killProcessGroup,
  killProcessGroupNow,
} from "./process-tree.ts";

export type StepOutcome =
  | { kind: "exited"; exitCode: number }
  | { kind: "timeout" }
  | { kind: "canceled" }
  | { kind: "spawn_failed"; message: string };

export interface StepProcess {
  shellPath: string;
  scriptPath: string;
  cwd: string;
  env: Record<string, string>;
  /** The env entry (`NAME=value`) that marks every process of this job. */
  marker: string;
  trace: TraceWriter;
  timeoutMs: number;
  /** Abort: stop the step gracefully (SIGTERM to the group, SIGKILL after the grace). */
  cancel?: AbortSignal;
  /** Abort: SIGKILL the group at once. */
  hardKill?: AbortSignal;
  killGraceMs: number;
}

/** Process groups of steps still running, killed if pier exits while they run. */
const runningGroups = new Set<number>();
let exitHookInstalled = false;

function killRunningGroupsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const pgid of runningGroups) killProcessGroupNow(pgid);
  });
}

/** After the group is gone, how long to wait for escapees to let go of the output pipes. */
const OUTPUT_DRAIN_MS = 2000;

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const number = signal === null ? undefined : constants.signals[signal];
  return 128 + (number ?? 0);
}

function pipeToTrace(stream: Readable, trace: TraceWriter): void {
  stream.on("data", (chunk: Buffer) => {
    if (!trace.write(chunk)) {
      stream.pause();
      void trace.drained().then(() => stream.resume());
    }
  });
}

/**
 * Runs one step's script in its own process group and streams its output to the trace.
 * Whatever way it ends (exit, timeout, cancel), every process of the group, and every process
 * carrying the job's marker, is gone before this resolves.
 */
export async function runStep(step: StepProcess): Promise<StepOutcome> {
  let child;
  try {
    child = spawn(step.shellPath, [step.scriptPath], {
      cwd: step.cwd,
      env: step.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    return { kind: "spawn_failed", message: (error as Error).message };
  }

  const spawned = new Promise<number | undefined>((resolve) => {
    child.once("spawn", () => resolve(child.pid));
    child.once("error", () => resolve(undefined));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | Error>(
    (resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => resolve(error));
    },
  );
  const outputClosed = Promise.all(
    [child.stdout, child.stderr].map(
      (stream) => new Promise<void>((resolve) => stream.once("close", () => resolve())),
    ),
  );
  pipeToTrace(child.stdout, step.trace);
  pipeToTrace(child.stderr, step.trace);

  const pgid = await spawned;
  const forksAtSpawn = forkCount();
  markPhase("step spawned");
  if (pgid === undefined) {
    const error = await exited;
    return { kind: "spawn_failed", message: error instanceof Error ? error.message : "spawn" };
  }
  killRunningGroupsOnExit();
  runningGroups.add(pgid);

  let stopReason: "timeout" | "canceled" | undefined;
  let stopping: Promise<void> | undefined;
  let shellExited = false;
  const stop = (reason: "timeout" | "canceled", now: boolean): void => {
    if (now) killProcessGroupNow(pgid);
    // Once the shell has exited, its result stands; teardown kills the rest anyway.
    if (shellExited) return;
    stopReason ??= reason;
    if (!now) stopping ??= killProcessGroup(pgid, step.killGraceMs);
  };
  const timer = setTimeout(
    () => stop("timeout", false),
    Math.min(Math.max(0, step.timeoutMs), 2 ** 31 - 1),
  );
  const onCancel = (): void => stop("canceled", false);
  const onHardKill = (): void => stop("canceled", true);
  if (step.cancel?.aborted === true) onCancel();
  if (step.hardKill?.aborted === true) onHardKill();
  step.cancel?.addEventListener("abort", onCancel, { once: true });
  step.hardKill?.addEventListener("abort", onHardKill, { once: true });

  try {
    const exit = await exited;
    shellExited = true;
    markPhase("step exited");
    clearTimeout(timer);
    // The shell is done; background children it left in the group go now.
    await (stopping ?? Promise.resolve());
    if (step.hardKill?.aborted === true) killProcessGroupNow(pgid);
    else await killProcessGroup(pgid, step.killGraceMs);
    await killMarkedProcesses(
      step.marker,
      step.hardKill?.aborted === true ? 0 : step.killGraceMs,
      pgid,
      forksAtSpawn,
    );
    markPhase("step killed");
    const drained = await Promise.race([
      outputClosed.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), OUTPUT_DRAIN_MS).unref()),
    ]);
    if (!drained) {
      child.stdout.destroy();
      child.stderr.destroy();
    }
    if (stopReason !== undefined) return { kind: stopReason };
    if (exit instanceof Error) return { kind: "spawn_failed", message: exit.message };
    return { kind: "exited", exitCode: exitCodeOf(exit.code, exit.signal) };
  } finally {
    runningGroups.delete(pgid);
    clearTimeout(timer);
    step.cancel?.removeEventListener("abort", onCancel);
    step.hardKill?.removeEventListener("abort", onHardKill);
  }
}
