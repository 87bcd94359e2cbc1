import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { BenchCommand, FinishedRun } from "./bench-case.ts";

const gnuTime = "/usr/bin/time";
const defaultTimeoutMs = 15 * 60_000;

/** How peak memory is measured on this machine, or undefined when it cannot be. */
export function memoryMethod(): string | undefined {
  return existsSync(gnuTime)
    ? "GNU time -f %M (peak RSS of the largest process in the tree)"
    : undefined;
}

/**
 * Starts the command and waits for it to exit. Wall time runs from just before spawn to the
 * exit event. With withMemory, the command runs under GNU time, which adds its own fork and
 * exec to the wall time; the harness therefore measures memory in separate runs.
 */
export async function measure(command: BenchCommand, withMemory = false): Promise<FinishedRun> {
  const memoryDir = withMemory ? await mkdtemp(join(tmpdir(), "pier-bench-rss-")) : undefined;
  const memoryFile = memoryDir === undefined ? undefined : join(memoryDir, "rss");
  const argv =
    memoryFile === undefined
      ? command.argv
      : [gnuTime, "-f", "%M", "-o", memoryFile, ...command.argv];
  try {
    const run = await spawnAndWait(argv, command);
    if (memoryFile === undefined) return run;
    const peak = Number.parseInt((await readFile(memoryFile, "utf8").catch(() => "")).trim(), 10);
    return Number.isFinite(peak) ? { ...run, peakRssKb: peak } : run;
  } finally {
    if (memoryDir !== undefined) await rm(memoryDir, { recursive: true, force: true });
  }
}

function spawnAndWait(argv: readonly string[], command: BenchCommand): Promise<FinishedRun> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const started = performance.now();
    // Its own process group, so a timeout can stop everything the command started.
    const child = spawn(file, args, {
      cwd: command.cwd,
      env: command.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let wallMs = 0;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    }, command.timeoutMs ?? defaultTimeoutMs);
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("exit", (code, signal) => {
      wallMs = performance.now() - started;
      exit = { code, signal };
    });
    // "close" comes after both the exit and the end of the output streams.
    child.on("close", () => {
      clearTimeout(timer);
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
        wallMs,
      });
    });
  });
}

/** Why a finished run is not the one the command expects, or undefined when it is. */
export function runProblem(command: BenchCommand, run: FinishedRun): string | undefined {
  const expected = command.expectExitCode ?? 0;
  if (run.signal !== null) return `killed by ${run.signal}${lastLines(run.stderr)}`;
  if (run.exitCode !== expected) {
    return `exited with ${String(run.exitCode)}, expected ${expected}${lastLines(run.stderr)}`;
  }
  return command.check?.(run);
}

function lastLines(text: string): string {
  const lines = text.trimEnd().split("\n").slice(-5);
  return lines.length === 0 || lines[0] === "" ? "" : `:\n    ${lines.join("\n    ")}`;
}
