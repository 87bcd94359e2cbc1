/**
 * End-to-end cases for the pipeline commands: each folder with a `case.json` is copied into a
 * fresh git repository and `node bin/pier.js` runs there. Runs against dist/: it is rebuilt
 * first when missing or older than src/.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt } from "../support/pier-cli.ts";

interface CaseRun {
  args: string[];
  exitCode: number;
  /** Exact stdout, from this file in the case folder. */
  stdoutFile?: string;
  stdoutContains?: string[];
  stderrContains?: string[];
  /** stdout parsed as JSON must contain this (vitest toMatchObject). */
  json?: unknown;
  /** Upper bound for the run, for hostile inputs that must fail fast. */
  maxMilliseconds?: number;
}

interface CaseFile {
  description: string;
  runs: CaseRun[];
}

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const casesDir = join(root, "test/cases");

beforeAll(() => ensureBuilt(), 300_000);

const cases = readdirSync(casesDir, { withFileTypes: true })
  .filter((item) => item.isDirectory() && existsSync(join(casesDir, item.name, "case.json")))
  .map((item) => item.name)
  .sort();

describe.each(cases)("case %s", (name) => {
  const folder = join(casesDir, name);
  const spec = JSON.parse(readFileSync(join(folder, "case.json"), "utf8")) as CaseFile;

  it.each(spec.runs.map((run) => [run.args.join(" "), run] as const))("pier %s", (_label, run) => {
    const repo = mkdtempSync(join(tmpdir(), `pier-case-${name}-`));
    try {
      cpSync(folder, repo, {
        recursive: true,
        filter: (path) => !path.endsWith("case.json") && !path.includes("expected-"),
      });
      const git = (...args: string[]): void => {
        execFileSync("git", args, { cwd: repo, stdio: "ignore" });
      };
      git("init", "-q", "-b", "main");
      git("add", "-A");
      git(
        "-c",
        "user.name=Pier Tests",
        "-c",
        "user.email=tests@pier.invalid",
        "commit",
        "-q",
        "-m",
        "case",
      );
      const started = performance.now();
      const result = spawnSync(process.execPath, [join(root, "bin/pier.js"), ...run.args], {
        cwd: repo,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", XDG_CACHE_HOME: join(repo, ".cache-home") },
        timeout: 60_000,
      });
      const elapsed = performance.now() - started;
      const context = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
      expect(result.status, context).toBe(run.exitCode);
      expect(result.stderr, context).not.toMatch(/internal error|\n\s+at .*\(/);
      if (run.stdoutFile)
        expect(result.stdout).toBe(readFileSync(join(folder, run.stdoutFile), "utf8"));
      for (const text of run.stdoutContains ?? []) expect(result.stdout, context).toContain(text);
      for (const text of run.stderrContains ?? []) expect(result.stderr, context).toContain(text);
      if (run.json !== undefined)
        expect(JSON.parse(result.stdout)).toMatchObject(run.json as object);
      if (run.maxMilliseconds !== undefined) expect(elapsed).toBeLessThan(run.maxMilliseconds);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
  });
});
