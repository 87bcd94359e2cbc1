import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { git } from "./git.ts";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
const entry = join(repoRoot, "bin/pier.js");
const built = join(repoRoot, "dist/cli/main.js");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    newest = Math.max(newest, item.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when it is missing or older than src/ (the integration project's global setup). */
export function buildIfStale(): void {
  if (!existsSync(built) || statSync(built).mtimeMs < newestMtime(join(repoRoot, "src"))) {
    spawnSync("npm", ["run", "--silent", "build"], { cwd: repoRoot, stdio: "ignore" });
  }
  ensureBuilt();
}

/** Tests run the real CLI: dist/ must exist (built once by test/support/build-once.ts). */
export function ensureBuilt(): void {
  if (!existsSync(built)) throw new Error("dist/cli/main.js is missing: run npm run build");
}

/** A fresh git repository with these files, committed on branch main. */
export function makeRepository(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "pier-repo-"));
  git(dir, "init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode: name.endsWith(".sh") ? 0o755 : 0o644 });
  }
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "test");
  return dir;
}

export interface PierRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `pier ARGS` with its own state and config folders. */
export function startPier(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [entry, ...args], {
    env: { ...process.env, ...env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function finished(child: ChildProcess): Promise<PierRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function runPier(args: string[], env: Record<string, string>): Promise<PierRun> {
  return finished(startPier(args, env));
}
