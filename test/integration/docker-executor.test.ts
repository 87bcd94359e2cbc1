/* eslint-disable no-control-regex -- GitLab's log format is made of ANSI escapes */
import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { cacheVolumeName } from "../../src/executors/docker/cache-volumes.ts";
import { DockerExecutor } from "../../src/executors/docker/docker-executor.ts";
import { projectKeyFor } from "../../src/executors/shell/build-paths.ts";
import { applyDiskPolicy } from "../../src/gc/disk-policy.ts";
import { keptUseMark } from "../../src/gc/kept-use.ts";
import type { ExecutionContext, JobResult } from "../../src/executors/executor.ts";
import type { JobService, JobSpec, JobVariable } from "../../src/job/spec.ts";
import { dockerSettingsFrom } from "../../src/runner/runner-config.ts";
import { localArtifactTransport } from "../../src/storage/artifacts.ts";
import { maskPhrases } from "../../src/trace/mask-phrases.ts";
import { TraceWriter } from "../../src/trace/trace-writer.ts";
import { labelledDockerObjects } from "../support/docker-objects.ts";
import { requireDocker } from "./docker-helpers.ts";
import { executorJobSpec, jobVariable } from "./executor-job-spec.ts";

const variable = jobVariable;

let pipelineId = 0;

function jobSpec(options: {
  id?: number;
  image?: string;
  script: string[];
  afterScript?: string[];
  variables?: JobVariable[];
  services?: JobService[];
  timeoutSeconds?: number;
  artifacts?: JobSpec["artifacts"];
  dependencies?: JobSpec["dependencies"];
  sha?: string;
}): JobSpec {
  return executorJobSpec(
    { ...options, timeoutSeconds: options.timeoutSeconds ?? 120, pipelineId },
    {
      id: options.id ?? 1,
      image: { name: options.image ?? "busybox:latest" },
      services: options.services ?? [],
      artifacts: options.artifacts ?? [],
      dependencies: options.dependencies ?? [],
    },
  );
}

interface JobRun {
  result: JobResult;
  log: string;
}

let docker: DockerClient;
let root: string;

beforeAll(async () => {
  await requireDocker();
  docker = await connectDocker();
});

afterAll(() => {
  docker?.close();
});

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "pier-docker-test-"));
  pipelineId = randomInt(1_000_000, 2_000_000_000);
});

/** Nothing labelled with this test's pipeline may remain: containers, networks, volumes. */
function leftovers(): Promise<string[]> {
  return labelledDockerObjects(docker, {
    "pier.managed": "true",
    "pier.pipeline": String(pipelineId),
  });
}

afterEach(async () => {
  const left = await leftovers();
  rmSync(root, { recursive: true, force: true });
  expect(left).toEqual([]);
});

async function runJob(
  spec: JobSpec,
  options: {
    settings?: Record<string, unknown>;
    signal?: AbortSignal;
    hardKill?: AbortSignal;
    projectDir?: string;
    runDir?: string;
    disableCache?: boolean;
    buildsDir?: string;
  } = {},
): Promise<JobRun> {
  const logFile = join(root, `job-${spec.id}.log`);
  const trace = new TraceWriter({ maskPhrases: maskPhrases(spec.variables), logFile });
  const executor = new DockerExecutor({
    docker,
    settings: dockerSettingsFrom(options.settings ?? {}),
    runnerName: "test-runner",
    ...(options.disableCache !== undefined && { disableCache: options.disableCache }),
  });
  const ctx: ExecutionContext = {
    trace,
    signal: options.signal ?? new AbortController().signal,
    stateDir: join(root, "state"),
    artifacts: localArtifactTransport({ runDir: options.runDir ?? join(root, "run") }),
    cacheDir: join(root, "cache"),
    ...(options.projectDir !== undefined && { projectDir: options.projectDir }),
    ...(options.hardKill !== undefined && { hardKill: options.hardKill }),
    ...(options.buildsDir !== undefined && { buildsDir: options.buildsDir }),
  };
  const result = await executor.run(spec, ctx);
  await trace.close();
  const { readFileSync } = await import("node:fs");
  const log = readFileSync(logFile, "utf8")
    .replace(/\x1b\[[0-9;]*[mK]/g, "")
    .replace(/section_(start|end):\d+:[a-z_]+(\[[^\]]*\])?\r?/g, "");
  return { result, log };
}

function gitRepo(files: Record<string, string>): { dir: string; sha: string } {
  const dir = join(root, "repo");
  execFileSync("git", ["init", "-q", "-b", "main", dir]);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  execFileSync("git", ["-C", dir, "add", "."]);
  execFileSync("git", [
    "-C",
    dir,
    "-c",
    "user.email=t@t",
    "-c",
    "user.name=t",
    "commit",
    "-qm",
    "x",
  ]);
  const sha = execFileSync("git", ["-C", dir, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  return { dir, sha };
}

describe("DockerExecutor", { timeout: 120_000 }, () => {
  it("runs a trivial busybox job on a snapshot of the repository", async () => {
    const repo = gitRepo({ "hello.txt": "hello from the repo\n" });
    const { result, log } = await runJob(
      jobSpec({
        script: ["cat hello.txt", 'echo "dir=$CI_PROJECT_DIR pwd=$(pwd)"'],
        variables: [],
        sha: repo.sha,
      }),
      { projectDir: repo.dir },
    );
    expect(result.status).toBe("success");
    expect(log).toContain('Preparing the "docker" executor');
    expect(log).toContain("hello from the repo");
    expect(log).toContain("dir=/builds/group/project pwd=/builds/group/project");
    expect(log).toContain("Job succeeded");
  });

  it("gives git a self-contained repository in the container", async () => {
    const repo = gitRepo({ "a.txt": "a\n" });
    const { result, log } = await runJob(
      jobSpec({
        image: "debian:bookworm",
        script: ["git log --format=%H -1", "git status --porcelain | wc -l"],
        variables: [],
        sha: repo.sha,
      }),
      { projectDir: repo.dir },
    );
    expect(result.status).toBe("success");
    expect(log).toContain(repo.sha);
  });

  it("turns a non-zero exit code into a failed job", async () => {
    const { result, log } = await runJob(jobSpec({ script: ["echo before", "exit 3"] }));
    expect(result).toMatchObject({
      status: "failed",
      exitCode: 3,
      failureReason: "script_failure",
    });
    expect(log).toContain("ERROR: Job failed: exit code 3");
  });

  it("runs bash where the image has it and sh otherwise", async () => {
    const script = ['echo "shell=[${BASH_VERSION:-none}]"'];
    const bash = await runJob(jobSpec({ image: "debian:bookworm", script }));
    const sh = await runJob(jobSpec({ image: "busybox:latest", script }));
    expect(bash.log).toMatch(/shell=\[5\.[0-9]/);
    expect(sh.log).toContain("shell=[none]");
  });

  it("keeps the script away from commands that read stdin", async () => {
    const { result, log } = await runJob(jobSpec({ script: ["cat", "echo still-running"] }));
    expect(result.status).toBe("success");
    expect(log).toContain("still-running");
  });

  it("runs after_script with CI_JOB_STATUS in the same file system", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo kept > /tmp/marker", "exit 1"],
        afterScript: ['echo "status=$CI_JOB_STATUS marker=$(cat /tmp/marker)"'],
      }),
    );
    expect(result.status).toBe("failed");
    expect(log).toContain("Running after script...");
    expect(log).toContain("status=failed marker=kept");
  });

  it("writes file variables into the container and masks masked ones", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: ['cat "$CONFIG_FILE"', 'echo "path=$CONFIG_FILE"', 'echo "secret=$TOKEN"'],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("CONFIG_FILE", "file-content-42", { file: true }),
          variable("TOKEN", "s3cr3t-value-xyz", { masked: true, public: false }),
        ],
      }),
    );
    expect(result.status).toBe("success");
    expect(log).toContain("file-content-42");
    expect(log).toContain("path=/builds/group/project.tmp/CONFIG_FILE");
    expect(log).toContain("secret=[MASKED]");
    expect(log).not.toContain("s3cr3t-value-xyz");
  });

  it("starts a service reachable by its name alias and its own aliases", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: [
          "nc -w 2 postgres 5432 -e true && echo postgres-reachable",
          "nc -w 2 db 5432 -e true && echo db-reachable",
        ],
        services: [
          {
            name: "postgres:15",
            alias: "db,database",
            variables: [variable("POSTGRES_HOST_AUTH_METHOD", "trust")],
          },
        ],
      }),
    );
    expect(result.status).toBe("success");
    expect(log).toContain("Waiting for services to be up and running (timeout 30 seconds)...");
    expect(log).not.toContain("probably didn't start properly");
    expect(log).toContain("postgres-reachable");
    expect(log).toContain("db-reachable");
  });

  it("shares per-job volumes with services and passes them only public variables", async () => {
    const { result, log } = await runJob(
      jobSpec({
        script: [
          "i=0; until [ -s /shared/env ] || [ $i -gt 50 ]; do sleep 0.2; i=$((i+1)); done",
          "grep -E '^(PUBLIC_VAR|SECRET_VAR|OWN_VAR)=' /shared/env | sort",
        ],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("PUBLIC_VAR", "visible"),
          variable("SECRET_VAR", "hidden-value", { public: false }),
        ],
        services: [
          {
            name: "busybox:latest",
            alias: "writer",
            entrypoint: ["sh", "-c"],
            command: ["env > /shared/env.tmp && mv /shared/env.tmp /shared/env && sleep 600"],
            variables: [variable("OWN_VAR", "own-$PUBLIC_VAR")],
          },
        ],
      }),
      { settings: { volumes: ["/shared"] }, disableCache: true },
    );
    expect(result.status).toBe("success");
    expect(log).toContain("OWN_VAR=own-visible");
    expect(log).toContain("PUBLIC_VAR=visible");
    expect(log).not.toContain("SECRET_VAR=");
  });

  it('keeps a volumes = ["/cache"] volume per project for the next job, labelled for pier gc', async () => {
    const spec = (id: number, script: string[]) => ({
      ...jobSpec({ id, script }),
      job_info: { ...jobSpec({ script }).job_info, project_full_path: `group/cache-${pipelineId}` },
    });
    const projectKey = projectKeyFor(spec(1, []), undefined);
    const volume = cacheVolumeName({
      projectPath: `group/cache-${pipelineId}`,
      projectKey,
      slot: 0,
      path: "/cache",
    });
    try {
      const first = await runJob(spec(31, ["echo kept-by-the-first-job > /cache/note"]), {
        settings: { volumes: ["/cache"] },
      });
      expect(first.result.status).toBe("success");
      const second = await runJob(spec(32, ["cat /cache/note"]), {
        settings: { volumes: ["/cache"] },
      });
      expect(second.result.status).toBe("success");
      expect(second.log).toContain("kept-by-the-first-job");
      const kept = await docker.volumes.inspect(volume);
      expect(kept.Labels?.["pier.keep"]).toBe("cache");
      expect(kept.Labels?.["pier.project"]).toBe(projectKey);
      expect(existsSync(keptUseMark(join(root, "state"), volume))).toBe(true);
      // pier gc's disk policy bounds it like the other kept volumes: by last use, then size.
      const aged = await applyDiskPolicy(
        docker,
        join(root, "state"),
        { maxAgeMs: 0 },
        { labels: { "pier.project": projectKey }, now: Date.now() + 1000 },
      );
      expect(aged.actions.map((action) => [action.name, action.error])).toEqual([
        [volume, undefined],
      ]);
      expect(await docker.volumes.list({ labels: { "pier.project": projectKey } })).toEqual([]);
    } finally {
      await docker.volumes.remove(volume, { force: true, ignoreMissing: true });
    }
  });

  it("lets a job image whose USER is not root write in its project directory (umask 0000)", async () => {
    const repo = gitRepo({ "tracked.txt": "from git\n" });
    const image = `pier-test/nonroot:${pipelineId}`;
    const base = execFileSync(
      "docker",
      ["create", "--label", "pier.managed=true", "pier-test/debian:bookworm-minbase", "true"],
      { encoding: "utf8" },
    ).trim();
    try {
      execFileSync("docker", ["commit", "--change", "USER 1000", base, image]);
      const { result, log } = await runJob(
        jobSpec({
          image,
          script: [
            "id -u",
            "echo changed >> tracked.txt && mkdir -p made/sub && echo new > made/sub/file",
            "cat tracked.txt made/sub/file",
            "stat -c '%a %n' made made/sub/file",
          ],
          variables: [],
          sha: repo.sha,
        }),
        { projectDir: repo.dir },
      );
      expect(result.status).toBe("success");
      expect(log).toMatch(/^1000$/m);
      expect(log).toContain("from git\nchanged\nnew");
      expect(log).toContain("777 made");
      expect(log).toContain("666 made/sub/file");
    } finally {
      execFileSync("docker", ["rm", "-f", base]);
      execFileSync("docker", ["rmi", "-f", image]);
    }
  });

  it("warns with the logs of a service that never gets ready, or fails when configured", async () => {
    const service: JobService = {
      name: "postgres:15",
      entrypoint: ["sh", "-c"],
      command: ["echo never-listening; sleep 600"],
    };
    const warned = await runJob(jobSpec({ script: ["echo job-ran"], services: [service] }), {
      settings: { wait_for_services_timeout: 2 },
    });
    expect(warned.result.status).toBe("success");
    expect(warned.log).toMatch(
      /\*\*\* WARNING: Service .*postgres-0 probably didn't start properly/,
    );
    expect(warned.log).toContain("never-listening");
    expect(warned.log).toContain("job-ran");

    const failed = await runJob(jobSpec({ script: ["echo job-ran"], services: [service] }), {
      settings: { wait_for_services_timeout: 2, services_readiness: "fail" },
    });
    expect(failed.result).toMatchObject({
      status: "failed",
      failureReason: "runner_system_failure",
    });
    expect(failed.log).not.toContain("job-ran");
  });

  it("puts the job and its services on network_mode's network when set", async () => {
    const name = `pier-test-network-mode-${pipelineId}`;
    const id = await docker.networks.create({
      Name: name,
      Labels: { "pier.managed": "true", "pier.test": "docker-executor" },
    });
    try {
      const { result, log } = await runJob(
        jobSpec({
          script: ["nc -w 2 db 5432 -e true && echo db-on-user-network"],
          services: [
            {
              name: "postgres:15",
              alias: "db",
              variables: [variable("POSTGRES_HOST_AUTH_METHOD", "trust")],
            },
          ],
        }),
        { settings: { network_mode: name } },
      );
      expect(result.status).toBe("success");
      expect(log).toContain("db-on-user-network");
      const network = await docker.networks.inspect(id);
      expect(Object.keys(network.Containers ?? {})).toEqual([]);
    } finally {
      await docker.networks.remove(id, { ignoreMissing: true });
    }
  });

  it("kills the job at its timeout and still runs after_script", async () => {
    const started = Date.now();
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo sleeping", "sleep 60"],
        afterScript: ['echo "after=$CI_JOB_STATUS"'],
        timeoutSeconds: 3,
      }),
    );
    expect(result).toMatchObject({ status: "failed", failureReason: "job_execution_timeout" });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(log).toContain("after=timedout");
    expect(log).toContain("execution took longer than 3s seconds");
  });

  it("stops the job on cancel, runs after_script, and reports canceled", async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(), 2500);
    const started = Date.now();
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo started", "sleep 60"],
        afterScript: ['echo "after=$CI_JOB_STATUS"'],
      }),
      { signal: cancel.signal },
    );
    expect(result.status).toBe("canceled");
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(log).toContain("started");
    expect(log).toContain("after=canceled");
  });

  it("kills the job at once on a hard kill and skips after_script", async () => {
    const cancel = new AbortController();
    const hardKill = new AbortController();
    setTimeout(() => {
      cancel.abort();
      hardKill.abort();
    }, 2500);
    const started = Date.now();
    const { result, log } = await runJob(
      jobSpec({
        script: ["echo started", "sleep 60"],
        afterScript: ["echo after-ran"],
      }),
      { signal: cancel.signal, hardKill: hardKill.signal },
    );
    expect(result.status).toBe("canceled");
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(log).toContain("started");
    expect(log).not.toContain("after-ran");
  });

  it("uploads artifacts from the container and gives them to a later job", async () => {
    const runDir = join(root, "run");
    const first = await runJob(
      jobSpec({
        id: 11,
        script: ["mkdir -p out", "echo built-in-container > out/result.txt"],
        artifacts: [
          {
            paths: ["out/"],
            untracked: false,
            when: "on_success",
            artifact_type: "archive",
            artifact_format: "zip",
          },
        ],
      }),
      { runDir },
    );
    expect(first.result.status).toBe("success");
    expect(first.log).toContain("Uploading artifacts...");
    const second = await runJob(
      jobSpec({
        id: 12,
        script: ["cat out/result.txt"],
        dependencies: [
          {
            id: 11,
            name: "test-job",
            token: "t",
            artifacts_file: { filename: "artifacts.zip", size: 1 },
          },
        ],
      }),
      { runDir },
    );
    expect(second.result.status).toBe("success");
    expect(second.log).toContain("built-in-container");
  });

  it("puts the build under builds_dir in the container, artifacts in and out included", async () => {
    const first = await runJob(
      jobSpec({
        id: 11,
        script: ['echo "dirs:$CI_BUILDS_DIR|$CI_PROJECT_DIR|$(pwd)"', "echo made > out.txt"],
        artifacts: [
          {
            paths: ["out.txt"],
            untracked: false,
            when: "on_success",
            artifact_type: "archive",
            artifact_format: "zip",
          },
        ],
      }),
      { buildsDir: "/ci/work/" },
    );
    expect(first.result.status, first.log).toBe("success");
    expect(first.log).toContain("dirs:/ci/work|/ci/work/group/project|/ci/work/group/project");
    expect(first.log).toContain("out.txt: found 1 matching artifact files and directories");

    // after_script keeps the container for a second stage, in the same builds_dir.
    const second = await runJob(
      jobSpec({
        id: 12,
        script: ["cat out.txt"],
        afterScript: ["pwd", "cat out.txt"],
        dependencies: [
          {
            id: 11,
            name: "test-job",
            token: "t",
            artifacts_file: { filename: "artifacts.zip", size: 1 },
          },
        ],
      }),
      { buildsDir: "/ci/work" },
    );
    expect(second.result.status, second.log).toBe("success");
    expect(second.log.match(/^made$/gm)).toHaveLength(2);
    expect(second.log).toMatch(/^\/ci\/work\/group\/project$/m);
  });

  it("saves the cache from the container and restores it into a later job", async () => {
    const cache = {
      key: "deps",
      untracked: false,
      policy: "pull-push" as const,
      paths: ["vendor/"],
      when: "on_success" as const,
    };
    const first = await runJob({
      ...jobSpec({ id: 21, script: ["mkdir -p vendor", "echo cached-42 > vendor/lib.txt"] }),
      cache: [cache],
    });
    expect(first.result.status).toBe("success");
    expect(first.log).toContain("Saving cache for successful job");
    const second = await runJob({
      ...jobSpec({ id: 22, script: ["cat vendor/lib.txt"] }),
      cache: [cache],
    });
    expect(second.result.status).toBe("success");
    expect(second.log).toContain("cached-42");
  });

  it("runs two jobs with same-named services at once without a clash", async () => {
    const job = (id: number) =>
      jobSpec({
        id,
        script: [`nc -w 2 db 5432 -e true && echo job-${id}-reached-db`],
        services: [
          {
            name: "postgres:15",
            alias: "db",
            variables: [variable("POSTGRES_HOST_AUTH_METHOD", "trust")],
          },
        ],
      });
    const [a, b] = await Promise.all([runJob(job(31)), runJob(job(32))]);
    expect(a.result.status).toBe("success");
    expect(b.result.status).toBe("success");
    expect(a.log).toContain("job-31-reached-db");
    expect(b.log).toContain("job-32-reached-db");
  });

  it("fails a job whose image cannot be had with image_pull_failure", async () => {
    const { result, log } = await runJob(
      jobSpec({ image: "pier-test-no-such-image:1", script: ["true"] }),
    );
    expect(result).toMatchObject({ status: "failed", failureReason: "image_pull_failure" });
    expect(log).toContain('failed to pull image "pier-test-no-such-image:1"');
  });

  it("refuses privileged mode for an image the allow list does not name", async () => {
    const { result, log } = await runJob(jobSpec({ script: ["echo ran"] }), {
      settings: { privileged: true, allowed_privileged_images: ["docker:*-dind"] },
    });
    expect(result.status).toBe("failed");
    expect(log).toContain('privileged mode is not allowed for the "busybox:latest" image');
    expect(log).not.toContain("\nran\n");
  });

  it("refuses an image outside allowed_images", async () => {
    const { result, log } = await runJob(jobSpec({ script: ["echo ran"] }), {
      settings: { allowed_images: ["debian:*"] },
    });
    expect(result.status).toBe("failed");
    expect(log).toContain('the "busybox:latest" image is not present on list of allowed images');
  });

  it("runs docker against a privileged DinD service over TLS through the alias docker", async () => {
    const { result, log } = await runJob(
      jobSpec({
        image: "docker:24",
        script: ["docker info --format 'server={{.ServerVersion}}'", "echo host=$DOCKER_HOST"],
        variables: [
          variable("GIT_STRATEGY", "none"),
          variable("DOCKER_TLS_CERTDIR", "/certs"),
          variable("DIND_KEY", "ec"),
        ],
        services: [{ name: "docker:24-dind" }],
      }),
      {
        settings: {
          privileged: true,
          volumes: ["/certs/client"],
          wait_for_services_timeout: 90,
        },
      },
    );
    expect(log).toMatch(/server=\d+\.\d+/);
    expect(log).toContain("host=tcp://docker:2376");
    expect(result.status).toBe("success");
  });
});
