import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  findMarkedProcesses,
  forkCount,
  killMarkedProcesses,
} from "../../src/executors/shell/process-tree.ts";

const started: ChildProcess[] = [];

afterEach(() => {
  for (const child of started.splice(0)) child.kill("SIGKILL");
});

/** A process carrying `marker` in its environment, in a session of its own (an escapee). */
async function markedProcess(marker: string): Promise<number> {
  const child = spawn("sleep", ["1000"], {
    env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", PIER_JOB_MARKER: marker },
    detached: true,
    stdio: "ignore",
  });
  started.push(child);
  await new Promise((resolve) => child.once("spawn", resolve));
  return child.pid ?? 0;
}

describe("finding a job's escaped processes by their marker", () => {
  it("finds them by probing the few pids handed out since the step began, or by listing /proc", async () => {
    const marker = `PIER_JOB_MARKER=${randomUUID()}`;
    // Another job's escapee is not this job's.
    await markedProcess(randomUUID());
    const pid = await markedProcess(marker.slice("PIER_JOB_MARKER=".length));
    // Since just before it: a handful of pids, each probed directly.
    expect(findMarkedProcesses(marker, pid - 1)).toEqual([pid]);
    // Since pid 1: every process of the host is listed.
    expect(findMarkedProcesses(marker, 1)).toEqual([pid]);

    expect(await killMarkedProcesses(marker, 1000, pid - 1)).toBe(1);
    expect(findMarkedProcesses(marker, 1)).toEqual([]);
  });

  it("lists every process when more were created since the step began than its pid range holds (pids wrapped around)", async () => {
    const marker = `PIER_JOB_MARKER=${randomUUID()}`;
    const pid = await markedProcess(marker.slice("PIER_JOB_MARKER=".length));
    // A later process, so that the last pid handed out is above the escapee's.
    await markedProcess(randomUUID());
    const forks = forkCount() ?? 0;
    expect(forks).toBeGreaterThan(0);
    // As if the step began at pid + 1 after the escapee: in range order it is not found...
    expect(findMarkedProcesses(marker, pid + 1, forks)).toEqual([]);
    // ...unless more processes were created since than the range holds: pids went round.
    expect(findMarkedProcesses(marker, pid + 1, forks - 100_000)).toEqual([pid]);
  });

  it("counts a process once, not once per thread", async () => {
    const marker = `PIER_JOB_MARKER=${randomUUID()}`;
    const child = spawn(
      process.execPath,
      [
        "-e",
        "const { Worker } = require('node:worker_threads'); new Worker('setInterval(() => {}, 1000)', { eval: true }); setInterval(() => {}, 1000)",
      ],
      {
        env: { PIER_JOB_MARKER: marker.slice("PIER_JOB_MARKER=".length) },
        detached: true,
        stdio: "ignore",
      },
    );
    started.push(child);
    await new Promise((resolve) => child.once("spawn", resolve));
    // Node's own threads and the worker have ids right after the process's.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(findMarkedProcesses(marker, child.pid ?? 0)).toEqual([child.pid]);
  });
});
