import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";

export interface DockerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI; never throws for a non-zero exit (see dockerOk). */
export function docker(args: readonly string[], timeoutMs = 120_000): Promise<DockerResult> {
  return new Promise((resolve, reject) => {
    execFile(
      "docker",
      args,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`docker ${args.join(" ")}: ${error.message}`));
          return;
        }
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Runs the docker CLI and returns its trimmed stdout; throws with stderr on failure. */
export async function dockerOk(args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await docker(args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(
      `docker ${args.join(" ")} exited ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout.trim();
}

/** Fails (does not skip) when no engine answers: these tests need the real one. */
export async function requireDocker(): Promise<void> {
  const result = await docker(["version", "--format", "{{.Server.Version}}"]).catch(
    (error: unknown) => ({ code: -1, stdout: "", stderr: String(error) }),
  );
  if (result.code !== 0) {
    throw new Error(`no Docker engine answers (run scripts/testenv first): ${result.stderr}`);
  }
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until check() resolves true; throws with the last failure after timeoutMs. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out waiting for ${what}${reason}`);
}

/**
 * The Docker objects one test file creates: unique names, pier.managed and pier.test labels,
 * and removal of all of them (containers with their anonymous volumes) in cleanup().
 */
export class DockerScope {
  readonly testName: string;
  readonly id: string;
  private readonly containers: string[] = [];
  private readonly networks: string[] = [];
  private readonly volumes: string[] = [];

  constructor(testName: string) {
    this.testName = testName;
    this.id = `${process.pid}-${randomBytes(3).toString("hex")}`;
  }

  get labels(): string[] {
    return ["--label", "pier.managed=true", "--label", `pier.test=${this.testName}`];
  }

  name(what: string): string {
    return `pier-test-${this.testName}-${what}-${this.id}`;
  }

  async network(what: string): Promise<string> {
    const name = this.name(what);
    this.networks.push(name);
    await dockerOk(["network", "create", ...this.labels, name]);
    return name;
  }

  async volume(what: string): Promise<string> {
    const name = this.name(what);
    this.volumes.push(name);
    await dockerOk(["volume", "create", ...this.labels, name]);
    return name;
  }

  /** docker run -d with a unique name and the labels; returns the container name. */
  async start(what: string, runArgs: readonly string[]): Promise<string> {
    const name = this.name(what);
    this.containers.push(name);
    await dockerOk(["run", "-d", "--name", name, ...this.labels, ...runArgs]);
    return name;
  }

  /** docker run (foreground, removed with its volumes afterwards); returns the result. */
  async run(what: string, runArgs: readonly string[], timeoutMs?: number): Promise<DockerResult> {
    const name = this.name(what);
    this.containers.push(name);
    try {
      return await docker(["run", "--name", name, ...this.labels, ...runArgs], timeoutMs);
    } finally {
      await docker(["rm", "-fv", name]);
    }
  }

  async cleanup(): Promise<void> {
    const problems: string[] = [];
    const attempt = async (args: string[]): Promise<void> => {
      const result = await docker(args);
      if (result.code !== 0 && !/No such|not found/i.test(result.stderr)) {
        problems.push(`docker ${args.join(" ")}: ${result.stderr.trim()}`);
      }
    };
    if (this.containers.length > 0) await attempt(["rm", "-fv", ...this.containers]);
    for (const network of this.networks) await attempt(["network", "rm", network]);
    if (this.volumes.length > 0) await attempt(["volume", "rm", "-f", ...this.volumes]);
    if (problems.length > 0) throw new Error(`cleanup failed:\n${problems.join("\n")}`);
  }
}

/**
 * Removes the volumes pier processes kept on purpose (pier.keep: /cache volumes, layer
 * caches) that these processes created: a test removes what it made, kept or not.
 */
export async function removeKeptVolumesOf(pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    const names = await dockerOk([
      "volume",
      "ls",
      "-q",
      "--filter",
      "label=pier.keep",
      "--filter",
      `label=pier.pid=${String(pid)}`,
    ]);
    const volumes = names.split("\n").filter((name) => name !== "");
    if (volumes.length > 0) await dockerOk(["volume", "rm", "-f", ...volumes]);
  }
}

/**
 * The containers, networks and volumes with this label (`key=value`, as `docker --filter
 * label=` takes it) that pier does not keep on purpose (they have no pier.keep label).
 */
export async function unkeptObjectsLabelled(label: string): Promise<string[]> {
  const filter = ["--filter", `label=${label}`];
  const lines = [
    await dockerOk(["ps", "-a", ...filter, "--format", '{{.Names}} {{.Label "pier.keep"}}']),
    await dockerOk(["network", "ls", ...filter, "--format", '{{.Name}} {{.Label "pier.keep"}}']),
    await dockerOk(["volume", "ls", ...filter, "--format", '{{.Name}} {{.Label "pier.keep"}}']),
  ]
    .join("\n")
    .split("\n");
  return lines.filter((line) => line.trim() !== "" && line.trim().split(" ").length === 1);
}
