import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { leaseSlots } from "../../src/storage/concurrency-slots.ts";
import { safeDirComponent } from "../../src/storage/safe-name.ts";

const slotsModule = resolve("src/storage/concurrency-slots.ts");

/**
 * A child pier-like process: says "ready", waits for "go" on stdin so that all children lease
 * at the same moment, leases `count` slot pairs at once, prints them, holds them until stdin closes.
 */
const holderScript = `
import { leaseSlots } from ${JSON.stringify(slotsModule)};
const [stateDir, projectKey, count, mode] = process.argv.slice(2);
process.stdout.write("ready\\n");
process.stdin.once("data", async () => {
  const leases = await Promise.all(Array.from({ length: Number(count) }, () => leaseSlots({ stateDir, projectKey })));
  process.stdout.write(JSON.stringify(leases.map((l) => [l.concurrentId, l.projectConcurrentId])) + "\\n");
  process.stdin.on("end", async () => {
    if (mode === "release") await Promise.all(leases.map((l) => l.release()));
    process.exit(0);
  });
});
`;

interface Holder {
  ready: Promise<void>;
  go: () => void;
  slots: Promise<[number, number][]>;
  finish: () => Promise<void>;
}

function startHolder(
  script: string,
  stateDir: string,
  projectKey: string,
  count: number,
  mode: "release" | "exit",
): Holder {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", script, stateDir, projectKey, String(count), mode],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let output = "";
  let onReady = (): void => undefined;
  const ready = new Promise<void>((resolvePromise) => (onReady = resolvePromise));
  const slots = new Promise<[number, number][]>((resolvePromise, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const lines = output.split("\n");
      if (lines[0] === "ready") onReady();
      if (lines.length > 2) resolvePromise(JSON.parse(lines[1] ?? "") as [number, number][]);
    });
    child.on("exit", (code) => reject(new Error(`holder exited early with ${String(code)}`)));
  });
  slots.catch(() => undefined);
  const exited = new Promise<void>((resolvePromise) => child.on("exit", () => resolvePromise()));
  return {
    ready,
    go: () => child.stdin.write("go\n"),
    slots,
    finish: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

async function startTogether(holders: Holder[]): Promise<[number, number][][]> {
  await Promise.all(holders.map((h) => h.ready));
  for (const holder of holders) holder.go();
  return Promise.all(holders.map((h) => h.slots));
}

function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

function startTimeOf(pid: number): string {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
}

describe("host-wide concurrency slot leases", () => {
  let stateDir: string;
  let script: string;

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "pier-slots-"));
    script = join(stateDir, "holder.mts");
    writeFileSync(script, holderScript);
  });

  afterEach(() => {
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("never gives two processes the same ids, even leasing at the same moment", async () => {
    for (let round = 0; round < 2; round++) {
      if (round === 1) {
        // Second round: the low slots hold stale locks that both processes want to take over.
        const dead = deadPid();
        for (const dir of [
          join(stateDir, "locks", "concurrent"),
          join(stateDir, "locks", "projects", safeDirComponent("group/project")),
        ]) {
          for (let id = 0; id < 6; id++) {
            writeFileSync(
              join(dir, `${String(id)}.lock`),
              JSON.stringify({ pid: dead, start: "1", nonce: `stale${String(id)}` }),
            );
          }
        }
      }
      const a = startHolder(script, stateDir, "group/project", 4, "release");
      const b = startHolder(script, stateDir, "group/project", 4, "release");
      const c = startHolder(script, stateDir, "other/project", 2, "release");
      const [slotsA = [], slotsB = [], slotsC = []] = await startTogether([a, b, c]);
      const sameProject = [...slotsA, ...slotsB];
      const concurrentIds = [...sameProject, ...slotsC].map(([id]) => id);
      expect(new Set(concurrentIds).size).toBe(10);
      expect(new Set(sameProject.map(([, id]) => id)).size).toBe(8);
      expect(sameProject.map(([, id]) => id).sort((x, y) => x - y)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7,
      ]);
      expect(slotsC.map(([, id]) => id).sort()).toEqual([0, 1]);
      await Promise.all([a.finish(), b.finish(), c.finish()]);
      expect(readdirSync(join(stateDir, "locks", "concurrent"))).toEqual([]);
    }
  });

  it("reuses released ids and releases idempotently", async () => {
    const first = await leaseSlots({ stateDir, projectKey: "p" });
    const second = await leaseSlots({ stateDir, projectKey: "p" });
    expect([first.concurrentId, second.concurrentId]).toEqual([0, 1]);
    await first.release();
    await first.release();
    const third = await leaseSlots({ stateDir, projectKey: "p" });
    expect([third.concurrentId, third.projectConcurrentId]).toEqual([0, 0]);
    await second.release();
    await third.release();
    expect(readdirSync(join(stateDir, "locks", "concurrent"))).toEqual([]);
  });

  it("frees the slots of a process that exits without releasing", async () => {
    const holder = startHolder(script, stateDir, "p", 2, "exit");
    // One process leases both at once: which lease gets which id is a race.
    const slots = (await startTogether([holder])).map((held) =>
      [...held].sort((a, b) => a[0] - b[0]),
    );
    expect(slots).toEqual([
      [
        [0, 0],
        [1, 1],
      ],
    ]);
    await holder.finish();
    expect(readdirSync(join(stateDir, "locks", "concurrent"))).toEqual([]);
  });

  it("takes over the lock of a dead process or of a reused pid, but not of a live one", async () => {
    const concurrentDir = join(stateDir, "locks", "concurrent");
    const projectDir = join(stateDir, "locks", "projects", safeDirComponent("p"));
    mkdirSync(concurrentDir, { recursive: true });
    mkdirSync(projectDir, { recursive: true });
    const lock = (pid: number, start: string) =>
      JSON.stringify({ pid, start, nonce: `n${String(pid)}${start}`, created: "" });
    // 0: owner gone. 1: pid alive but started at another time (reused). 2: alive owner (our parent).
    writeFileSync(join(concurrentDir, "0.lock"), lock(deadPid(), "1"));
    writeFileSync(join(concurrentDir, "1.lock"), lock(process.ppid, "1"));
    writeFileSync(join(concurrentDir, "2.lock"), lock(process.ppid, startTimeOf(process.ppid)));
    writeFileSync(join(projectDir, "0.lock"), "not json");

    const leases = [
      await leaseSlots({ stateDir, projectKey: "p" }),
      await leaseSlots({ stateDir, projectKey: "p" }),
    ];
    const third = await leaseSlots({ stateDir, projectKey: "p" });
    expect(leases.map((l) => l.concurrentId)).toEqual([0, 1]);
    expect(third.concurrentId).toBe(3);
    expect([...leases, third].map((l) => l.projectConcurrentId)).toEqual([0, 1, 2]);
    for (const lease of [...leases, third]) await lease.release();
    expect(readdirSync(concurrentDir)).toEqual(["2.lock"]);
    expect(existsSync(join(concurrentDir, "0.lock.takeover"))).toBe(false);
  });

  it("stops when aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      leaseSlots({ stateDir, projectKey: "p", signal: controller.signal }),
    ).rejects.toThrow();
    expect(readdirSync(join(stateDir, "locks", "concurrent"))).toEqual([]);
  });
});
