import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { git } from "../support/git.ts";
import { ensureBuilt } from "../support/pier-cli.ts";
import { makeSeedRepository } from "../support/seed-repository.ts";
import {
  docker,
  dockerOk,
  removeKeptVolumesOf,
  requireDocker,
  unkeptObjectsLabelled,
} from "./docker-helpers.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const storageVolume = `pier-test-seed-registry-${String(process.pid)}`;

interface Report {
  status: string;
  jobs: Array<{ name: string; status: string; log?: string }>;
}

function runPier(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; pid: number; output: string }> {
  const child = spawn(process.execPath, [join(repoRoot, "bin/pier.js"), ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolvePromise) => {
    child.on("exit", (code) => resolvePromise({ code: code ?? -1, pid: child.pid!, output }));
  });
}

describe("the seed pipeline (examples/seed)", () => {
  let work: string;
  const pids: number[] = [];

  beforeAll(async () => {
    await requireDocker();
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), "pier-seed-"));
  });

  afterAll(async () => {
    await removeKeptVolumesOf(pids);
    await docker(["volume", "rm", "-f", storageVolume]);
    rmSync(work, { recursive: true, force: true });
  });

  it("runs green with pier run --executor docker, pushes the image to pier's registry, and leaves nothing", async () => {
    // The example, with a registry storage of this test's own (removed afterwards).
    const repo = makeSeedRepository(join(work, "repo"), storageVolume);
    const shortSha = git(repo, "rev-parse", "--short=8", "HEAD");

    const reportFile = join(work, "report.json");
    const run = await runPier(
      ["run", "--executor", "docker", "--config", "config.toml", "--plain", "--report", reportFile],
      repo,
      { XDG_STATE_HOME: join(work, "state"), XDG_CONFIG_HOME: join(work, "config") },
    );
    pids.push(run.pid);
    if (!existsSync(reportFile)) throw new Error(`pier run wrote no report:\n${run.output}`);
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
    const logs = report.jobs
      .map((job) => (job.log === undefined ? "" : readFileSync(job.log, "utf8")))
      .join("\n");
    expect(run.code, `${run.output}\n${logs}`).toBe(0);
    expect(report.jobs.map((job) => [job.name, job.status])).toEqual([
      ["docker-build", "success"],
      ["test-suite", "success"],
    ]);
    expect(logs).toContain("Login Succeeded");
    expect(logs).toContain(`ci-${shortSha}: digest: sha256:`);
    expect(logs).toContain("all tests passed");

    // The image is in the registry's storage (kept on purpose, labelled pier.keep=registry).
    const tags = await dockerOk([
      "run",
      "--rm",
      "--label",
      "pier.managed=true",
      "--label",
      "pier.test=seed-pipeline",
      "--mount",
      `type=volume,src=${storageVolume},dst=/registry,readonly`,
      "busybox:latest",
      "sh",
      "-c",
      "find /registry/docker/registry/v2/repositories -type d | grep '/_manifests/tags/[^/]*$' | sed 's#.*/##'",
    ]);
    expect(tags.split(/\s+/)).toContain(`ci-${shortSha}`);
    expect(
      await dockerOk([
        "volume",
        "inspect",
        "--format",
        '{{index .Labels "pier.keep"}}',
        storageVolume,
      ]),
    ).toBe("registry");

    // Nothing of that pier process is left but what it keeps on purpose.
    expect(await unkeptObjectsLabelled(`pier.pid=${String(run.pid)}`)).toEqual([]);
  }, 900_000);
});
