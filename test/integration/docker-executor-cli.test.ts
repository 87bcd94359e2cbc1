import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { labelledDockerObjects } from "../support/docker-objects.ts";
import { ensureBuilt, finished, makeRepository, startPier } from "../support/pier-cli.ts";
import { requireDocker } from "./docker-helpers.ts";

const cleanup: string[] = [];
let docker: DockerClient;

beforeAll(async () => {
  await requireDocker();
  docker = await connectDocker();
  ensureBuilt();
}, 300_000);

afterAll(() => {
  docker?.close();
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(dir);
  return dir;
}

interface Report {
  pipeline_id: number;
  status: string;
  jobs: Array<{
    name: string;
    status: string;
    failure_reason?: string | null;
    log: string | null;
  }>;
}

function leftoversOf(pipelineId: number): Promise<string[]> {
  return labelledDockerObjects(docker, {
    "pier.managed": "true",
    "pier.pipeline": String(pipelineId),
  });
}

describe("pier run --executor docker", { timeout: 180_000 }, () => {
  it("runs a pipeline in containers: artifacts between jobs, a missing image fails only its job", async () => {
    const repo = makeRepository({
      ".gitlab-ci.yml": `
build:
  stage: build
  image: busybox
  script:
    - cat input.txt > result.txt
    - echo "built in $CI_PROJECT_DIR"
  artifacts:
    paths: [result.txt]
broken-image:
  stage: build
  image: pier-test-no-such-image:1
  allow_failure: true
  script: ["true"]
test:
  stage: test
  image: debian:bookworm
  services:
    - name: postgres:15
      alias: db
      variables:
        POSTGRES_HOST_AUTH_METHOD: trust
  script:
    - test "$(cat result.txt)" = from-repo
    - echo "cache volume at $(ls -d /cache)"
    - bash -c 'exec 3<>/dev/tcp/db/5432' && echo db-answers
`,
      "input.txt": "from-repo\n",
    });
    cleanup.push(repo);
    const home = tempDir("pier-docker-cli-");
    const config = join(home, "config.toml");
    writeFileSync(
      config,
      `concurrent = 2\n[[runners]]\nexecutor = "docker"\n[runners.docker]\nvolumes = ["/cache"]\n`,
    );
    const report = join(home, "report.json");
    const child = startPier(["run", "-C", repo, "--config", config, "--report", report], {
      XDG_STATE_HOME: join(home, "state"),
      XDG_CONFIG_HOME: join(home, "config"),
    });
    const run = await finished(child);
    // volumes = ["/cache"] is a volume per project kept for the next pipeline (pier gc bounds it).
    const kept = await docker.volumes.list({
      labels: { "pier.keep": "cache", "pier.pid": String(child.pid) },
    });
    await Promise.all(kept.map((volume) => docker.volumes.remove(volume.Name, { force: true })));
    expect(kept.map((volume) => volume.Labels?.["pier.volume"])).toContain("/cache");
    const result = JSON.parse(readFileSync(report, "utf8")) as Report;
    const logs = result.jobs
      .map((job) => (job.log === null ? "" : readFileSync(job.log, "utf8")))
      .join("\n");
    expect(run.code, `${run.stderr}\n${logs}`).toBe(0);
    const byName = new Map(result.jobs.map((job) => [job.name, job]));
    expect(byName.get("build")?.status).toBe("success");
    expect(byName.get("broken-image")).toMatchObject({
      status: "failed",
      failure_reason: "image_pull_failure",
    });
    expect(byName.get("test")?.status).toBe("success");
    expect(logs).toContain("built in /builds/");
    expect(logs).toContain("cache volume at /cache");
    expect(logs).toContain("db-answers");
    expect(await leftoversOf(result.pipeline_id)).toEqual([]);
  });

  it("runs the job image and services as their `docker: user:`", async () => {
    // The service tells its user id to whoever connects (port 8080: the user is not root).
    const repo = makeRepository({
      ".gitlab-ci.yml": `
who:
  image:
    name: busybox
    docker: { user: "1234:5678" }
  services:
    - name: busybox
      alias: teller
      docker: { user: "4321" }
      command: ["sh", "-c", "while true; do id -u | nc -l -p 8080; done"]
  script:
    - echo "job-ids=$(id -u):$(id -g)"
    - for i in $(seq 1 100); do out=$(nc -w 1 teller 8080 </dev/null) && [ -n "$out" ] && break; sleep 0.1; done; echo "service-uid=$out"
`,
    });
    cleanup.push(repo);
    const home = tempDir("pier-docker-cli-");
    const run = await finished(
      startPier(["run", "-C", repo, "--executor", "docker", "--plain"], {
        XDG_STATE_HOME: join(home, "state"),
        XDG_CONFIG_HOME: join(home, "config"),
      }),
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^who\s+│ job-ids=1234:5678$/m);
    expect(run.stdout).toMatch(/^who\s+│ service-uid=4321$/m);
  });

  it("stops with a clear error before any job when the engine cannot be reached", async () => {
    const repo = makeRepository({ ".gitlab-ci.yml": 'job:\n  script: ["true"]\n' });
    cleanup.push(repo);
    const home = tempDir("pier-docker-cli-");
    const child = startPier(["run", "-C", repo, "--executor", "docker"], {
      XDG_STATE_HOME: join(home, "state"),
      XDG_CONFIG_HOME: join(home, "config"),
      DOCKER_HOST: `unix://${join(home, "no-engine.sock")}`,
    });
    const run = await finished(child);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("cannot reach the Docker engine");
    expect(run.stdout).not.toContain("job");
    // Nothing ran, so no run folder is left.
    expect(readdirSync(join(home, "state", "pier", "runs"))).toEqual([]);
  });
});
