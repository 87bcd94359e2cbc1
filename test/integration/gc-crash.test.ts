import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scratchDirOwner, scratchRoot } from "../../src/storage/scratch-dirs.ts";
import { ensureBuilt } from "../support/pier-cli.ts";
import { docker, requireDocker, waitUntil } from "./docker-helpers.ts";

const repoRoot = resolve(import.meta.dirname, "../..");

function pier(args: string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [join(repoRoot, "bin/pier.js"), ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function finished(child: ChildProcess): Promise<{ code: number | null; output: string }> {
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolvePromise) => {
    child.on("exit", (code) => resolvePromise({ code, output }));
  });
}

/** Names of the containers, networks and volumes a pier process owns. */
async function objectsOf(pid: number): Promise<string[]> {
  const filter = ["--filter", `label=pier.pid=${String(pid)}`];
  const lines = [
    (await docker(["ps", "-a", ...filter, "--format", "container {{.Names}}"])).stdout,
    (await docker(["network", "ls", ...filter, "--format", "network {{.Name}}"])).stdout,
    (await docker(["volume", "ls", ...filter, "--format", "volume {{.Name}}"])).stdout,
  ];
  return lines
    .join("\n")
    .split("\n")
    .filter((line) => line !== "")
    .sort();
}

describe("pier gc after kill -9 of pier run --executor docker", () => {
  let work: string;
  const children: ChildProcess[] = [];
  const pids: number[] = [];

  beforeAll(async () => {
    await requireDocker();
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), "pier-gc-crash-"));
  });

  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    for (const pid of pids) {
      const filter = ["--filter", `label=pier.pid=${String(pid)}`];
      const ids = async (args: string[]): Promise<string[]> =>
        (await docker(args)).stdout.split("\n").filter((line) => line !== "");
      const containers = await ids(["ps", "-aq", ...filter]);
      if (containers.length > 0) await docker(["rm", "-fv", ...containers]);
      const networks = await ids(["network", "ls", "-q", ...filter]);
      if (networks.length > 0) await docker(["network", "rm", ...networks]);
      const volumes = await ids(["volume", "ls", "-q", ...filter]);
      if (volumes.length > 0) await docker(["volume", "rm", "-f", ...volumes]);
    }
    rmSync(work, { recursive: true, force: true });
  });

  it("removes what the killed pier left and nothing of a live one", async () => {
    const repo = join(work, "repo");
    execFileSync("git", ["init", "-q", "-b", "main", repo]);
    writeFileSync(
      join(repo, ".gitlab-ci.yml"),
      [
        "long-job:",
        "  image: busybox:latest",
        "  services:",
        "    - name: busybox:latest",
        "      alias: sidecar",
        '      command: ["sleep", "600"]',
        "  script:",
        "    - echo started",
        "    - sleep 600",
        "",
      ].join("\n"),
    );
    execFileSync("git", ["add", "-A"], { cwd: repo });
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "long"], {
      cwd: repo,
    });
    const env = { XDG_STATE_HOME: join(work, "state"), XDG_CONFIG_HOME: join(work, "config") };
    const args = ["run", "--executor", "docker", "--plain"];

    const doomed = pier(args, repo, env);
    children.push(doomed);
    const doomedExit = finished(doomed);
    const live = pier(args, repo, env);
    children.push(live);
    const liveExit = finished(live);
    pids.push(doomed.pid!, live.pid!);
    const jobRunning = async (pid: number): Promise<boolean> =>
      (
        await docker(["ps", "--filter", `label=pier.pid=${String(pid)}`, "--format", "{{.Names}}"])
      ).stdout
        .split("\n")
        .filter((line) => line !== "").length >= 2;
    await waitUntil(
      "both pier runs have their job and service running",
      async () => (await jobRunning(doomed.pid!)) && (await jobRunning(live.pid!)),
      120_000,
    );

    const before = await objectsOf(doomed.pid!);
    expect(before.some((name) => name.startsWith("network "))).toBe(true);
    const scratchOf = (pid: number): string[] =>
      readdirSync(scratchRoot(join(env.XDG_STATE_HOME, "pier"))).filter(
        (name) => scratchDirOwner(name) === pid,
      );
    expect(scratchOf(doomed.pid!).length).toBeGreaterThan(0);
    const liveScratch = scratchOf(live.pid!);
    doomed.kill("SIGKILL");
    await doomedExit;
    expect(await objectsOf(doomed.pid!)).toEqual(before);

    const liveBefore = await objectsOf(live.pid!);
    const gc = finished(pier(["gc", "--max-age", "never"], repo, env));
    const result = await gc;
    expect(result.code, result.output).toBe(0);
    expect(await objectsOf(doomed.pid!)).toEqual([]);
    expect(await objectsOf(live.pid!)).toEqual(liveBefore);
    expect(scratchOf(doomed.pid!)).toEqual([]);
    expect(scratchOf(live.pid!)).toEqual(liveScratch);

    // The live run cancels cleanly on Ctrl-C and removes its own objects.
    live.kill("SIGINT");
    const liveResult = await liveExit;
    expect(liveResult.code, liveResult.output).toBe(130);
    expect(await objectsOf(live.pid!)).toEqual([]);
    expect(scratchOf(live.pid!)).toEqual([]);
  }, 300_000);
});
