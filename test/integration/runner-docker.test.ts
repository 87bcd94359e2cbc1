import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ownerLabelValue } from "../../src/gc/owner-labels.ts";
import { parseRunnerConfig, type RunnerConfig } from "../../src/runner/config-toml.ts";
import type { RunnerService } from "../../src/runner/runner-service.ts";
import type { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import { startRunnerFixture, type RunnerFixture } from "../support/runner-fixture.ts";
import { removeKeptVolumesOf, requireDocker, unkeptObjectsLabelled } from "./docker-helpers.ts";

let fixture: RunnerFixture;
let fake: FakeGitLab;
let token: string;
const services: RunnerService[] = [];

beforeAll(async () => {
  await requireDocker();
});

beforeEach(async () => {
  fixture = await startRunnerFixture({ "hello.txt": "hello from the repository\n" });
  ({ fake, token } = fixture);
});

afterEach(async () => {
  services.length = 0;
  await fixture.close();
});

// The runners ran in this process: the /cache volumes they kept are this test's to remove.
afterAll(() => removeKeptVolumesOf([process.pid]));

/** Docker objects this test process's pier created that are still there (pier.keep aside). */
function leftovers(): Promise<string[]> {
  return unkeptObjectsLabelled(`pier.owner=${ownerLabelValue()}`);
}

function startService(config: RunnerConfig): RunnerService {
  const service = fixture.startService(config);
  services.push(service);
  return service;
}

describe("pier as a runner with the Docker executor, against the GitLab stand-in", () => {
  it("clones over HTTP on the host, runs the payload's image and sends the log byte for byte", async () => {
    const job = fake.queueJob({
      script: ["cat hello.txt", "cat /etc/debian_version", "echo $MODE"],
      variables: [{ key: "MODE", value: "from-the-payload", public: true }],
    });
    job.payload.image = {
      name: "debian:bookworm",
      entrypoint: [""],
      pull_policy: ["if-not-present"],
    };
    startService(fixture.dockerConfig());
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    const trace = job.trace.toString("utf8");
    expect(trace).toContain("Using Docker executor with image debian:bookworm");
    expect(trace).toContain("hello from the repository");
    expect(trace).toMatch(/\n12\.\d+\n/);
    expect(trace).toContain("from-the-payload");
    expect(trace).not.toContain(job.token);
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
    await services[0]?.stopGracefully();
    expect(await leftovers()).toEqual([]);
  }, 180_000);

  it("runs a busybox job from [runners.docker] image and reports a failing script's exit code", async () => {
    const job = fake.queueJob({ script: ["busybox 2>&1 | sed -n 1p", "exit 7"] });
    startService(fixture.dockerConfig());
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 7,
    });
    expect(job.trace.toString()).toContain("BusyBox v");
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
  }, 180_000);

  it("starts the payload's postgres service, reachable by its alias, with its variables", async () => {
    const job = fake.queueJob({
      script: ["until nc -w 2 db 5432 -e true; do sleep 1; done", "echo db-reachable"],
    });
    job.payload.services = [
      {
        name: "postgres:15",
        alias: "db",
        variables: [
          {
            key: "POSTGRES_HOST_AUTH_METHOD",
            value: "trust",
            public: true,
            masked: false,
            file: false,
            raw: false,
          },
        ],
      },
    ];
    startService(fixture.dockerConfig());
    await fake.waitFor(() => job.final !== undefined, 180_000);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    const trace = job.trace.toString();
    expect(trace).toContain("Starting service postgres:15");
    expect(trace).toContain("db-reachable");
    expect(job.trace.equals(fixture.localLog(job))).toBe(true);
    await services[0]?.stopGracefully();
    expect(await leftovers()).toEqual([]);
  }, 240_000);

  it("starts a service with the payload's entrypoint, command and variables", async () => {
    const job = fake.queueJob({
      script: ["for i in $(seq 1 30); do wget -q -O- http://web:8080/ && break; sleep 1; done"],
    });
    job.payload.services = [
      {
        name: "busybox:latest",
        alias: "web",
        entrypoint: ["sh", "-c"],
        command: [
          'mkdir -p /www && echo "served $GREETING" > /www/index.html && httpd -f -p 8080 -h /www',
        ],
        variables: [
          {
            key: "GREETING",
            value: "by-the-service",
            public: true,
            masked: false,
            file: false,
            raw: false,
          },
        ],
      },
    ];
    startService(fixture.dockerConfig());
    await fake.waitFor(() => job.final !== undefined, 120_000);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({ state: "success" });
    expect(job.trace.toString()).toContain("served by-the-service");
    await services[0]?.stopGracefully();
    expect(await leftovers()).toEqual([]);
  }, 180_000);

  it("runs the seed's config.toml (docker:19.03, privileged, /cache and /certs/client) four jobs at once, never a fifth", async () => {
    const { config } = parseRunnerConfig(`concurrent = 4
check_interval = 0

[session_server]
  session_timeout = 1800

[[runners]]
  name = "GitLab Runner"
  url = "${fake.url}"
  token = "${token}"
  executor = "docker"
  [runners.custom_build_dir]
  [runners.cache]
    [runners.cache.s3]
    [runners.cache.gcs]
    [runners.cache.azure]
  [runners.docker]
    tls_verify = false
    image = "docker:19.03"
    privileged = true
    disable_entrypoint_overwrite = false
    oom_kill_disable = false
    disable_cache = false
    volumes = ["/cache", "/certs/client"]
    shm_size = 0
`);
    const jobs = Array.from({ length: 6 }, (_, i) =>
      fake.queueJob({
        name: `job ${i}`,
        script: ["test -d /cache && test -d /certs/client", "docker --version", "sleep 2"],
      }),
    );
    startService(config);
    await fake.waitFor(() => jobs.every((job) => job.final !== undefined), 240_000);
    expect(fake.violations).toEqual([]);
    expect(jobs.map((job) => job.final?.state)).toEqual(Array(6).fill("success"));
    expect(fake.maxRunning).toBe(4);
    for (const job of jobs) {
      expect(job.trace.toString()).toContain("Using Docker executor with image docker:19.03");
      expect(job.trace.toString()).toMatch(/Docker version \d/);
    }
    await services[0]?.stopGracefully();
    expect(await leftovers()).toEqual([]);
  }, 300_000);
});
