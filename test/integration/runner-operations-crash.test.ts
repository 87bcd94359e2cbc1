import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseRunnerConfig, writeRunnerConfig } from "../../src/runner/config-toml.ts";
import type { FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import { dockerOk, requireDocker } from "./docker-helpers.ts";
import { useRunnerHome, type LogEvent } from "./runner-operations-setup.ts";

const world = useRunnerHome("group/crash");
/** `pier.owner` of the killed pier's Docker objects, removed after a failed test. */
let deadOwner: string | undefined;

afterEach(async () => {
  if (deadOwner !== undefined) {
    const filter = ["--filter", `label=pier.owner=${deadOwner}`];
    const containers = (await dockerOk(["ps", "-a", "-q", ...filter])).split("\n");
    const networks = (await dockerOk(["network", "ls", "-q", ...filter])).split("\n");
    const volumes = (await dockerOk(["volume", "ls", "-q", ...filter])).split("\n");
    for (const id of containers.filter(Boolean)) await dockerOk(["rm", "-f", "-v", id]);
    for (const id of networks.filter(Boolean)) await dockerOk(["network", "rm", id]);
    for (const id of volumes.filter(Boolean)) await dockerOk(["volume", "rm", "-f", id]);
    deadOwner = undefined;
  }
});

function writeConfig(executor: "shell" | "docker"): void {
  const docker =
    executor === "docker"
      ? `  [runners.docker]\n    image = "busybox:latest"\n    pull_policy = ["never"]\n`
      : "";
  const { config } = parseRunnerConfig(`concurrent = 1
check_interval = 1
[[runners]]
  name = "crash test"
  url = "${world.fake.url}"
  token = "${world.fake.createRunner()}"
  executor = "${executor}"
${docker}`);
  writeRunnerConfig(world.configFile, config);
}

/** Pids of live processes whose command line holds `needle` (a job's unique sleep). */
function processesRunning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "latin1").split("\0").join(" ");
      const state = readFileSync(`/proc/${name}/stat`, "latin1").split(") ")[1]?.[0];
      if (cmdline.includes(needle) && state !== "Z") found.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

function journalFiles(): string[] {
  try {
    return readdirSync(join(world.stateDir, "runner", "journal"));
  } catch {
    return [];
  }
}

async function killMidJob(job: FakeJob): Promise<void> {
  const first = world.startService();
  await world.fake.waitFor(() => job.trace.toString().includes("job started"), 120_000);
  expect(journalFiles()).toHaveLength(1);
  first.child.kill("SIGKILL");
  expect((await first.exit).signal).toBe("SIGKILL");
}

async function restartAndRecover(job: FakeJob): Promise<LogEvent[]> {
  const second = world.startService();
  await world.fake.waitFor(() => job.final !== undefined, 60_000);
  second.child.kill("SIGQUIT");
  expect((await second.exit).code).toBe(0);
  return second.events;
}

describe("pier runner run after kill -9", () => {
  it("reports the lost shell job failed, sends its saved log, and kills what the job left running", async () => {
    writeConfig("shell");
    const needle = `${String(900 + Math.floor(Math.random() * 99))}.5`;
    const job = world.fake.queueJob({ script: ["echo job started", `sleep ${needle}`] });
    await killMidJob(job);
    // The job's process group outlives a pier killed with -9: the restart must end it.
    expect(processesRunning(`sleep ${needle}`)).not.toEqual([]);

    const events = await restartAndRecover(job);
    expect(world.fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "failed", failure_reason: "runner_system_failure" });
    const trace = job.trace.toString();
    expect(trace).toContain("job started");
    expect(trace).toContain("the pier runner process running this job died");
    expect(processesRunning(`sleep ${needle}`)).toEqual([]);
    expect(journalFiles()).toEqual([]);
    expect(events).toContainEqual(
      expect.objectContaining({ msg: "lost job reported", job: job.id, state: "failed" }),
    );
  }, 180_000);

  it("reports the lost Docker job failed and removes its container, network and volumes", async () => {
    await requireDocker();
    writeConfig("docker");
    const job = world.fake.queueJob({ script: ["echo job started", "sleep 600"] });
    await killMidJob(job);
    const { dockerOwner } = JSON.parse(
      readFileSync(join(world.stateDir, "runner", "journal", journalFiles()[0]!), "utf8"),
    ) as { dockerOwner?: string };
    expect(dockerOwner).toMatch(/^\d+-\d+$/);
    deadOwner = dockerOwner;
    const filter = ["--filter", `label=pier.owner=${String(dockerOwner)}`];
    const objects = async (): Promise<string> => {
      return [
        await dockerOk(["ps", "-a", "-q", ...filter]),
        await dockerOk(["network", "ls", "-q", ...filter]),
        await dockerOk(["volume", "ls", "-q", ...filter]),
      ]
        .join(" ")
        .trim();
    };
    expect(await dockerOk(["ps", "-q", ...filter])).not.toBe("");

    await restartAndRecover(job);
    expect(world.fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "failed", failure_reason: "runner_system_failure" });
    expect(job.trace.toString()).toContain("job started");
    expect(await objects()).toBe("");
    deadOwner = undefined;
    expect(journalFiles()).toEqual([]);
  }, 240_000);
});
