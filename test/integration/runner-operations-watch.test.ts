import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchConfigFile, type ConfigWatch } from "../../src/runner/config-watch.ts";

let dir: string;
let file: string;
let watch: ConfigWatch | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "pier-config-watch-"));
  file = join(dir, "config.toml");
  writeFileSync(file, "concurrent = 1\n");
});

afterEach(() => {
  watch?.close();
  rmSync(dir, { recursive: true, force: true });
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await pause(20);
  }
}

describe("config.toml watch", () => {
  it("sees a file replaced by rename once, and nothing while it does not change", async () => {
    let changes = 0;
    watch = watchConfigFile({ file, onChange: () => (changes += 1), pollMs: 100, settleMs: 50 });
    await pause(300);
    expect(changes).toBe(0);
    const draft = join(dir, ".draft");
    writeFileSync(draft, "concurrent = 2\n");
    renameSync(draft, file);
    await until(() => changes === 1);
    await pause(400);
    expect(changes).toBe(1);
  });

  it("sees a change of the mtime alone (same size, same content)", async () => {
    let changes = 0;
    watch = watchConfigFile({ file, onChange: () => (changes += 1), pollMs: 100, settleMs: 50 });
    await pause(200);
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await until(() => changes === 1);
  });

  it("stops when closed", async () => {
    let changes = 0;
    watch = watchConfigFile({ file, onChange: () => (changes += 1), pollMs: 50, settleMs: 10 });
    await pause(100);
    watch.close();
    writeFileSync(file, "concurrent = 3\n");
    await pause(300);
    expect(changes).toBe(0);
  });
});
