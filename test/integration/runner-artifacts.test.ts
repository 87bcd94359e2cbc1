import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import yauzl from "yauzl";
import type { JobArtifact, JobCache } from "../../src/job/spec.ts";
import { ownerLabelValue } from "../../src/gc/owner-labels.ts";
import type { RunnerEntry } from "../../src/runner/config-toml.ts";
import { downloadArtifactsFile } from "../../src/runner/artifacts-download.ts";
import { writeGzipMembers } from "../../src/runner/artifacts-gzip.ts";
import { loadGitLabTls, type GitLabTlsMaterial } from "../../src/runner/gitlab-tls.ts";
import {
  uploadArtifactFile,
  type ArtifactLog,
  type ArtifactUpload,
} from "../../src/runner/artifacts-upload.ts";
import type { RunnerService } from "../../src/runner/runner-service.ts";
import { shortToken } from "../../src/runner/short-token.ts";
import { matchProjectPaths } from "../../src/storage/path-match.ts";
import type { FakeGitLab, FakeJob } from "../support/fake-gitlab/fake-gitlab.ts";
import type { JobRequestOptions } from "../support/fake-gitlab/job-payload.ts";
import { listenOnLoopback } from "../support/loopback-server.ts";
import { startRunnerFixture, type RunnerFixture } from "../support/runner-fixture.ts";
import { makeTestCertificates } from "../support/test-certificates.ts";
import { dockerOk, requireDocker } from "./docker-helpers.ts";

let fixture: RunnerFixture;
let fake: FakeGitLab;
const cleanups: string[] = [];

afterEach(() => {
  for (const path of cleanups.splice(0)) rmSync(path, { recursive: true, force: true });
});

/** A temporary folder, removed after the test. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(dir);
  return dir;
}

function startService(entry: Partial<RunnerEntry> = {}): RunnerService {
  return fixture.startService(fixture.shellConfig({ name: "artifacts runner", ...entry }));
}

async function finished(job: FakeJob): Promise<string> {
  await fake.waitFor(() => job.final !== undefined, 90_000);
  return job.trace.toString("utf8");
}

/** Waits for `job` to end; the stand-in saw no protocol violation and the job succeeded. */
async function succeeded(job: FakeJob): Promise<string> {
  const trace = await finished(job);
  expect(fake.violations).toEqual([]);
  expect(job.final?.state).toBe("success");
  return trace;
}

function artifact(o: Partial<JobArtifact> & { paths: string[] }): JobArtifact {
  return {
    untracked: false,
    when: "on_success",
    artifact_type: "archive",
    artifact_format: "zip",
    ...o,
  };
}

/** report.xml as a junit report, gzip as GitLab wants it. */
function junitReport(name: string): JobArtifact {
  return artifact({ name, paths: ["report.xml"], artifact_type: "junit", artifact_format: "gzip" });
}

const archiveOnly = [artifact({ name: "artifacts", paths: ["out/"] })];

/** A job that writes out/a.txt and uploads it as its archive. */
function producer(extra: Partial<JobRequestOptions> = {}): FakeJob {
  return fake.queueJob({
    name: "build",
    script: ["mkdir -p out", "echo built-by-producer > out/a.txt"],
    artifacts: archiveOnly,
    ...extra,
  });
}

/** A job that depends on `build` (so it downloads its archive first) and runs `script`. */
function consumer(build: FakeJob, script = ["cat out/a.txt"]): FakeJob {
  return fake.queueJob({ name: "test", script, dependencies: [fake.dependencyOn(build)] });
}

function stored(job: FakeJob, type: string): Buffer {
  const found = job.artifacts.find((a) => a.type === type);
  if (found === undefined) throw new Error(`job ${job.id} uploaded no ${type}`);
  return found.bytes;
}

async function zipNames(bytes: Buffer): Promise<string[]> {
  const zip = await yauzl.fromBufferPromise(bytes, { decodeStrings: true });
  const names: string[] = [];
  try {
    for await (const entry of zip.eachEntry()) names.push(entry.fileName);
  } finally {
    zip.close();
  }
  return names.sort();
}

/** The file name in each gzip member's header (FNAME), in order. */
function gzipMemberNames(bytes: Buffer): string {
  const end = bytes.indexOf(0, 10);
  return bytes.subarray(10, end).toString("utf8");
}

describe("runner artifacts through the GitLab stand-in", () => {
  beforeEach(async () => {
    fixture = await startRunnerFixture({ "hello.txt": "tracked\n" });
    fake = fixture.fake;
  });

  afterEach(async () => {
    await fixture.close();
  });

  it("uploads the archive and the junit and dotenv reports; a later job downloads the archive with the dependency's token", async () => {
    const build = fake.queueJob({
      name: "build",
      script: [
        "mkdir -p out/sub out/tmp",
        "echo a > out/a.txt",
        "echo b > out/sub/b.txt",
        "echo scratch > out/tmp/x.txt",
        "echo untracked-note > notes.txt",
        "echo '<testsuites/>' > report.xml",
        "echo VERSION=1.2.3 > build.env",
        "echo '[]' > cq.json",
      ],
      artifacts: [
        artifact({
          name: "build-output",
          paths: ["out/"],
          exclude: ["out/tmp/**"],
          untracked: true,
          expire_in: "1 week",
        }),
        { ...junitReport("junit.xml"), when: "always" },
        artifact({
          name: "gl-code-quality-report.json",
          paths: ["cq.json"],
          artifact_type: "codequality",
          artifact_format: "raw",
        }),
        artifact({
          name: "dotenv",
          paths: ["build.env"],
          artifact_type: "dotenv",
          artifact_format: "gzip",
        }),
      ],
    });
    startService();
    const trace = await succeeded(build);

    const archive = build.artifacts.find((a) => a.type === "archive");
    expect(archive).toMatchObject({
      format: "zip",
      filename: "build-output.zip",
      expireIn: "1 week",
    });
    const names = await zipNames(stored(build, "archive"));
    expect(names).toEqual(
      expect.arrayContaining(["out/", "out/a.txt", "out/sub/", "out/sub/b.txt", "notes.txt"]),
    );
    expect(names.some((name) => name.startsWith("out/tmp/x"))).toBe(false);
    expect(names).not.toContain("hello.txt");

    const junit = build.artifacts.find((a) => a.type === "junit");
    expect(junit).toMatchObject({ format: "gzip", filename: "junit.xml.gz" });
    expect(gunzipSync(junit!.bytes).toString()).toBe("<testsuites/>\n");
    expect(gzipMemberNames(junit!.bytes)).toBe("report.xml");
    expect(gunzipSync(stored(build, "dotenv")).toString()).toBe("VERSION=1.2.3\n");
    expect(build.artifacts.find((a) => a.type === "codequality")).toMatchObject({
      format: "raw",
      filename: "cq.json",
      bytes: Buffer.from("[]\n"),
    });

    const short = shortToken(build.token);
    expect(trace).toContain("Uploading artifacts for successful job");
    expect(trace).toContain("out: found 4 matching artifact files and directories");
    expect(trace).toContain(
      `Uploading artifacts as "archive" to coordinator... 201 Created  id=${build.id} responseStatus=201 Created token=${short}`,
    );
    expect(trace).toContain('Uploading artifacts as "junit" to coordinator... 201 Created');
    expect(trace).toContain('Uploading artifacts as "dotenv" to coordinator... 201 Created');
    expect(trace).not.toContain("run's folder");

    const test = consumer(build, [
      "cat out/a.txt out/sub/b.txt notes.txt",
      "test ! -e out/tmp/x.txt && echo no-tmp",
    ]);
    const testTrace = await succeeded(test);
    expect(testTrace).toContain(`Downloading artifacts for build (${build.id})...`);
    expect(testTrace).toMatch(
      new RegExp(
        `Downloading artifacts from coordinator\\.\\.\\. ok  host=\\S+ id=${build.id} responseStatus=200 OK token=${short}`,
      ),
    );
    expect(testTrace).toContain("a\nb\nuntracked-note\n");
    expect(testTrace).toContain("no-tmp");
    const download = fake.requests.find(
      (r) => r.method === "GET" && r.path === `/api/v4/jobs/${build.id}/artifacts`,
    );
    expect(download?.headers["job-token"]).toBe(build.token);
    // direct_download: GitLab redirected to storage and the runner followed.
    expect(download?.status).toBe(302);
    expect(fake.requests.some((r) => r.path.startsWith("/_storage/") && r.status === 200)).toBe(
      true,
    );
  }, 120_000);

  it("fails the job with a clear message when GitLab answers 413 (too large)", async () => {
    fake.inject({ method: "POST", path: /\/artifacts$/, status: 413 });
    const build = producer();
    startService();
    const trace = await finished(build);
    expect(fake.violations).toEqual([]);
    expect(build.final?.state).toBe("failed");
    expect(build.artifacts).toEqual([]);
    expect(trace).toContain(
      'ERROR: Uploading artifacts as "archive" to coordinator... too large archive',
    );
    expect(trace).toMatch(/responseStatus=413 (Request Entity|Payload) Too Large/);
    expect(trace).toContain("raise the maximum artifacts size in GitLab");
    // 413 is final: one attempt only.
    expect(fake.requests.filter((r) => r.path.endsWith("/artifacts"))).toHaveLength(1);
  }, 60_000);

  it("retries an upload GitLab answered 500 and succeeds", async () => {
    fake.inject({ method: "POST", path: /\/artifacts$/, status: 500 });
    const build = producer();
    startService();
    const trace = await succeeded(build);
    expect(await zipNames(stored(build, "archive"))).toEqual(["out/", "out/a.txt"]);
    expect(trace).toContain('Uploading artifacts as "archive" to coordinator... failed');
    expect(trace).toContain("Retrying...  context=artifacts-uploader");
    expect(trace).toContain('Uploading artifacts as "archive" to coordinator... 201 Created');
    expect(fake.requests.filter((r) => r.path.endsWith("/artifacts"))).toHaveLength(2);
  }, 60_000);

  it("fails a job whose dependency's artifacts GitLab refuses (403) as a dependency failure", async () => {
    const build = producer();
    startService();
    await finished(build);
    fake.inject({ method: "GET", path: /\/artifacts$/, status: 403 });
    const test = consumer(build, ["echo should-not-run"]);
    const trace = await finished(test);
    expect(fake.violations).toEqual([]);
    expect(test.final).toMatchObject({
      state: "failed",
      failure_reason: "missing_dependency_failure",
    });
    expect(trace).toContain("ERROR: Downloading artifacts from coordinator... forbidden");
    expect(trace).not.toContain("should-not-run");
    // The log's last line tells the same failure: the job's, not the runner's.
    expect(trace).not.toContain("Job failed (system failure)");
    expect(trace).toMatch(/ERROR: Job failed: .*forbidden/);
    // 403 is final: no second attempt.
    expect(
      fake.requests.filter((r) => r.method === "GET" && r.path.endsWith("/artifacts")),
    ).toHaveLength(1);
  }, 60_000);

  it("retries a download GitLab answered 500", async () => {
    const build = producer();
    startService();
    await finished(build);
    fake.inject({ method: "GET", path: /\/artifacts$/, status: 500 });
    const trace = await succeeded(consumer(build));
    expect(trace).toContain("Retrying...  context=artifacts-downloader");
    expect(trace).toContain("built-by-producer");
  }, 60_000);

  it("uploads what artifacts:when allows for a failed job", async () => {
    const job = fake.queueJob({
      name: "build",
      script: ["mkdir -p out", "echo partial > out/a.txt", "echo '<x/>' > report.xml", "exit 2"],
      artifacts: [
        artifact({ name: "debug", paths: ["out/"], when: "on_failure" }),
        junitReport("junit"),
      ],
    });
    startService();
    const trace = await finished(job);
    expect(fake.violations).toEqual([]);
    expect(job.final).toMatchObject({
      state: "failed",
      failure_reason: "script_failure",
      exit_code: 2,
    });
    expect(job.artifacts.map((a) => `${a.type} ${a.filename}`)).toEqual(["archive debug.zip"]);
    expect(trace).toContain("Uploading artifacts for failed job");
  }, 60_000);

  /** Two jobs with one cache key: the first writes vendor/dep.txt, the second prints it. */
  async function twoJobsSharingACache(
    entry: Partial<RunnerEntry>,
    afterFirst: () => void = () => undefined,
  ): Promise<string> {
    const cache: JobCache[] = [
      {
        key: "deps",
        untracked: false,
        policy: "pull-push",
        paths: ["vendor/"],
        when: "on_success",
      },
    ];
    const first = fake.queueJob({
      name: "first",
      script: ["mkdir -p vendor", "echo cached-by-first > vendor/dep.txt"],
      cache,
    });
    startService(entry);
    expect(await finished(first)).toContain("Created cache");
    afterFirst();
    const second = fake.queueJob({ name: "second", script: ["cat vendor/dep.txt"], cache });
    const trace = await succeeded(second);
    expect(trace).toContain("Successfully extracted cache");
    return trace;
  }

  it("shares a cache key between two jobs of the project (local cache under the state dir)", async () => {
    expect(await twoJobsSharingACache({})).toContain("cached-by-first");
  }, 90_000);

  it("lays the cache out under cache_dir per project as gitlab-runner does", async () => {
    const cacheDir = tempDir("pier-runner-cache-dir-");
    const trace = await twoJobsSharingACache({ cacheDir }, () => {
      expect(existsSync(join(cacheDir, "group", "project", "deps", "cache.zip"))).toBe(true);
    });
    expect(trace).toContain("cached-by-first");
  }, 90_000);

  it("moves artifacts the same way with the Docker executor", async () => {
    await requireDocker();
    // [runners.docker] as config.toml's parser hands it over.
    const dockerEntry = fixture.dockerConfig().runners[0]!;
    const build = producer({
      script: ["mkdir -p out", "echo built-in-a-container > out/a.txt"],
    });
    const service = startService(dockerEntry);
    await succeeded(build);
    expect(await zipNames(stored(build, "archive"))).toEqual(["out/", "out/a.txt"]);
    expect(await succeeded(consumer(build))).toContain("built-in-a-container");
    await service.stopGracefully();
    expect(
      await dockerOk(["ps", "-a", "--filter", `label=pier.owner=${ownerLabelValue()}`, "-q"]),
    ).toBe("");
  }, 180_000);

  it("still ends every job with its artifacts when every fifth request fails", async () => {
    fake.failEveryNth = 5;
    const build = fake.queueJob({
      name: "build",
      script: ["mkdir -p out", "echo faulty-network > out/a.txt", "echo '<x/>' > report.xml"],
      artifacts: [...archiveOnly, junitReport("junit")],
    });
    startService();
    await succeeded(build);
    expect(build.artifacts.map((a) => a.type).sort()).toEqual(["archive", "junit"]);
    expect(await succeeded(consumer(build))).toContain("faulty-network");
  }, 120_000);
});

/** The job log lines of an upload or download, warnings and errors marked as the trace marks them. */
function collectingLog(): { lines: string[]; log: ArtifactLog } {
  const lines: string[] = [];
  return {
    lines,
    log: {
      println: (l) => lines.push(l),
      warning: (l) => lines.push(`WARNING: ${l}`),
      error: (l) => lines.push(`ERROR: ${l}`),
    },
  };
}

/** Uploads `file` as job 7's archive, `artifacts.zip`. */
function uploadArchive(
  o: Pick<ArtifactUpload, "apiBase" | "tls" | "file" | "size" | "retry" | "log">,
): Promise<void> {
  return uploadArtifactFile({
    ...o,
    jobId: 7,
    jobToken: "glcbt-64_transfertesttoken",
    filename: "artifacts.zip",
    type: "archive",
    format: "zip",
  });
}

describe("runner artifact transfer", () => {
  it("streams a 100 MB archive to GitLab without holding it in memory", async () => {
    const file = join(tempDir("pier-artifact-stream-"), "big.zip");
    const size = 100 * 1024 * 1024;
    writeFileSync(file, "");
    truncateSync(file, size);
    let received = 0;
    const server = await listenOnLoopback(
      createServer((request, response) => {
        request.on("data", (chunk: Buffer) => (received += chunk.length));
        request.on("end", () => {
          response.writeHead(201, { "Content-Type": "application/json" });
          response.end("{}");
        });
      }),
    );
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 5);
    const { lines, log } = collectingLog();
    try {
      await uploadArchive({
        apiBase: `${server.url}/api/v4/`,
        file,
        size,
        retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, idleTimeoutMs: 30_000 },
        log,
      });
    } finally {
      clearInterval(sampler);
      await server.close();
    }
    expect(lines.join("\n")).toContain("201 Created");
    // The multipart head and tail add a few hundred bytes to the file.
    expect(received).toBeGreaterThan(size);
    expect(received).toBeLessThan(size + 1024);
    // Buffered whole, the archive alone would add 100 MB; streamed, only chunks in flight and
    // garbage the collector has not reclaimed yet (the fake server runs in this process too).
    expect(peak - baseline).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);

  it("retries an upload that timed out and a download whose connection dropped mid-body", async () => {
    const dir = tempDir("pier-artifact-faults-");
    const file = join(dir, "artifacts.zip");
    writeFileSync(file, "PK\x05\x06" + "\0".repeat(18));
    const archive = readFileSync(file);
    let uploads = 0;
    let downloads = 0;
    const server = await listenOnLoopback(
      createServer((request, response) => {
        if (request.method === "POST") {
          uploads += 1;
          request.resume();
          // The first upload gets no answer at all: the runner must time out and try again.
          if (uploads === 1) return;
          request.on("end", () => {
            response.writeHead(201);
            response.end("{}");
          });
          return;
        }
        downloads += 1;
        response.writeHead(200, { "Content-Length": String(archive.length) });
        if (downloads === 1) {
          response.write(archive.subarray(0, 5));
          setTimeout(() => response.destroy(), 20);
          return;
        }
        response.end(archive);
      }),
    );
    const apiBase = `${server.url}/api/v4/`;
    const retry = { attempts: 3, baseDelayMs: 10, maxDelayMs: 20, idleTimeoutMs: 300 };
    const { lines, log } = collectingLog();
    const destination = join(dir, "downloaded.zip");
    try {
      await uploadArchive({ apiBase, file, size: archive.length, retry, log });
      await downloadArtifactsFile({
        apiBase,
        dependency: { id: 7, name: "build", token: "glcbt-64_transfertesttoken" },
        destination,
        retry,
        log,
      });
    } finally {
      await server.close();
    }
    expect(uploads).toBe(2);
    expect(downloads).toBe(2);
    expect(readFileSync(destination).equals(archive)).toBe(true);
    expect(lines.filter((l) => l.startsWith("WARNING: Retrying..."))).toHaveLength(2);
  }, 30_000);

  it("writes one gzip member per report file, each named after its path", async () => {
    const dir = tempDir("pier-artifact-gzip-");
    writeFileSync(join(dir, "a.xml"), "<a/>\n");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "b.xml"), "<b/>\n");
    const matched = await matchProjectPaths({ projectDir: dir, paths: ["a.xml", "sub/b.xml"] });
    const out = join(dir, "out.gz");
    const { files } = await writeGzipMembers(dir, matched.entries, out);
    expect(files).toBe(2);
    const bytes = readFileSync(out);
    expect(gunzipSync(bytes).toString()).toBe("<a/>\n<b/>\n");
    expect(gzipMemberNames(bytes)).toBe("a.xml");
    expect(bytes.includes(Buffer.from("sub/b.xml\0"))).toBe(true);
  });

  it("uploads over HTTPS to a GitLab with a private CA (tls-ca-file), refusing it without", async () => {
    const dir = tempDir("pier-artifact-tls-");
    const certificates = makeTestCertificates(dir, "pier-artifacts-ca");
    const file = join(dir, "artifacts.zip");
    writeFileSync(file, "PK\x05\x06" + "\0".repeat(18));
    const server = await listenOnLoopback(
      createHttpsServer(
        {
          key: readFileSync(certificates.serverKey),
          cert: readFileSync(certificates.serverCert),
        },
        (request, response) => {
          request.resume();
          request.on("end", () => {
            response.writeHead(201);
            response.end("{}");
          });
        },
      ),
    );
    const { lines, log } = collectingLog();
    const upload = (tls: GitLabTlsMaterial | undefined): Promise<void> =>
      uploadArchive({
        apiBase: `${server.url}/api/v4/`,
        ...(tls !== undefined && { tls }),
        file,
        size: 22,
        retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1, idleTimeoutMs: 10_000 },
        log,
      });
    try {
      await expect(upload(undefined)).rejects.toThrow(/certificate/);
      await upload(loadGitLabTls({ caFile: certificates.ca }));
    } finally {
      await server.close();
    }
    expect(lines.at(-1)).toContain("201 Created");
  }, 60_000);
});
