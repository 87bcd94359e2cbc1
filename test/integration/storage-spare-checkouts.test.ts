import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sweepStateDir } from "../../src/gc/state-sweep.ts";
import { spareCheckoutsRoot } from "../../src/storage/state-dir.ts";

let stateDir: string;

beforeEach(() => {
  stateDir = mkdtempSync(join(tmpdir(), "pier-spares-"));
});

afterEach(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

describe("pier gc and spare checkouts", () => {
  it("removes the spare checkouts of a pier that is gone, keeps a running pier's", async () => {
    const deadPid = spawnSync("true").pid;
    const spares = spareCheckoutsRoot(stateDir);
    const dead = join(spares, `${String(deadPid)}-0123456789ab`);
    const live = join(spares, `${String(process.pid)}-ba9876543210`);
    for (const dir of [dead, live]) {
      mkdirSync(join(dir, ".git"), { recursive: true });
      writeFileSync(join(dir, "file.txt"), "x\n");
    }

    const actions = await sweepStateDir(stateDir);

    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(actions.map((action) => action.name)).toEqual([dead]);
  });
});
