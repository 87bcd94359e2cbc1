import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, finished, makeRepository, runPier, startPier } from "../support/pier-cli.ts";

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup.push(dir);
  return dir;
}

function repository(files: Record<string, string>): string {
  const dir = makeRepository(files);
  cleanup.push(dir);
  return dir;
}

function isolatedEnv(): Record<string, string> {
  const home = tempDir("pier-home-");
  return { XDG_STATE_HOME: join(home, "state"), XDG_CONFIG_HOME: join(home, "config") };
}

interface Report {
  status: string;
  jobs: Array<{ name: string; status: string; exit_code: number | null; log: string | null }>;
}

function readReport(file: string): Report {
  return JSON.parse(readFileSync(file, "utf8")) as Report;
}

function allLogs(report: Report): string {
  return report.jobs
    .map((job) => (job.log === null ? "" : readFileSync(job.log, "utf8")))
    .join("\n");
}

beforeAll(() => ensureBuilt(), 300_000);

describe("pier run with the shell executor", () => {
  it("hands dotenv variables and artifacts to later jobs, and masks secrets in every log", async () => {
    const secret = "hunter2-very-secret-value";
    const repo = repository({
      ".gitlab-ci.yml": `
build:
  stage: build
  script:
    - echo "VERSION=4.2.$CI_JOB_ID" > build.env
    - echo built > result.txt
    - echo "the secret is $DEPLOY_TOKEN"
    - printf '%s' "$DEPLOY_TOKEN" | fold -w 3
  artifacts:
    paths: [result.txt]
    reports:
      dotenv: build.env
test:
  stage: test
  script:
    - test "$(cat result.txt)" = built
    - echo "version is $VERSION"
    - test -n "$VERSION"
`,
    });
    const env = isolatedEnv();
    const variablesFile = join(tempDir("pier-vars-"), "variables.yml");
    writeFileSync(variablesFile, `DEPLOY_TOKEN: { value: "${secret}", masked: true }\n`);
    const reportFile = join(tempDir("pier-report-"), "report.json");
    const run = await runPier(
      ["run", "-C", repo, "--variables-file", variablesFile, "--report", reportFile],
      env,
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const report = readReport(reportFile);
    expect(report.status).toBe("success");
    const logs = allLogs(report);
    expect(logs).toMatch(/version is 4\.2\.\d+/);
    expect(logs).toContain("the secret is [MASKED]");
    expect(logs).not.toContain(secret);
    expect(run.stdout).not.toContain(secret);
    // The user's working tree is untouched.
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: repo }).toString()).toBe("");
  });

  it("starts a job that needs only a fast job before an unrelated slow job ends", async () => {
    const marks = tempDir("pier-marks-");
    const repo = repository({
      ".gitlab-ci.yml": `
fast:
  stage: build
  script: ["true"]
slow:
  stage: build
  script: ["sleep 2", "date +%s%N > $MARKS/slow-end"]
after-fast:
  stage: test
  needs: [fast]
  script: ["date +%s%N > $MARKS/after-fast-start"]
`,
    });
    const run = await runPier(["run", "-C", repo, "--variable", `MARKS=${marks}`], isolatedEnv());
    expect(run.code).toBe(0);
    const slowEnd = BigInt(readFileSync(join(marks, "slow-end"), "utf8").trim());
    const afterFastStart = BigInt(readFileSync(join(marks, "after-fast-start"), "utf8").trim());
    expect(afterFastStart < slowEnd).toBe(true);
  });

  it("runs two pipelines of one repository at once, 4 jobs each, without sharing files", async () => {
    const jobs = [1, 2, 3, 4]
      .map(
        (n) => `
job-${n}:
  script:
    - echo "$CI_PIPELINE_ID-$CI_JOB_NAME" > shared.txt
    - mkdir -p "$PROOF" && echo "$CI_PROJECT_DIR" > "$PROOF/$CI_PIPELINE_ID-$CI_JOB_NAME"
    - sleep 1
    - test "$(cat shared.txt)" = "$CI_PIPELINE_ID-$CI_JOB_NAME"
    - test "$(git status --porcelain | grep -v shared.txt)" = ""
`,
      )
      .join("");
    const repo = repository({ ".gitlab-ci.yml": jobs });
    const proof = tempDir("pier-proof-");
    const env = isolatedEnv(); // one state root: slots are leased host-wide through it
    const args = ["run", "-C", repo, "--concurrency", "4", "--variable", `PROOF=${proof}`];
    const [first, second] = await Promise.all([runPier(args, env), runPier(args, env)]);
    expect(first.code, first.stdout).toBe(0);
    expect(second.code, second.stdout).toBe(0);
    const projectDirs = readdirSync(proof).map((file) =>
      readFileSync(join(proof, file), "utf8").trim(),
    );
    expect(projectDirs).toHaveLength(8);
    expect(new Set(projectDirs).size).toBe(8);
    for (const dir of projectDirs) expect(dir.startsWith(repo)).toBe(false);
  });

  it("cancels on Ctrl-C: after_script runs, no process survives, the report says canceled", async () => {
    const marker = `pier-marker-${process.pid}-${Date.now()}`;
    const repo = repository({
      ".gitlab-ci.yml": `
long:
  script:
    - (exec -a ${marker} sleep 1000) &
    - echo started
    - sleep 1000
  after_script:
    - echo "after_script saw $CI_JOB_STATUS"
next:
  stage: deploy
  script: ["echo never"]
`,
    });
    const reportFile = join(tempDir("pier-report-"), "report.json");
    const child = startPier(["run", "-C", repo, "--plain", "--report", reportFile], isolatedEnv());
    const done = finished(child);
    await new Promise<void>((resolve) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("started")) resolve();
      });
    });
    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(130);
    const report = readReport(reportFile);
    expect(report.status).toBe("canceled");
    expect(report.jobs.map((job) => [job.name, job.status])).toEqual([
      ["long", "canceled"],
      ["next", "canceled"],
    ]);
    expect(allLogs(report)).toContain("after_script saw canceled");
    const processes = execFileSync("ps", ["-eo", "args"]).toString();
    expect(processes).not.toContain(marker);
  });

  it("fails the pipeline with exit code 1 and says which job failed", async () => {
    const repo = repository({
      ".gitlab-ci.yml": `
broken:
  script: ["exit 3"]
allowed:
  script: ["exit 4"]
  allow_failure: true
`,
    });
    const run = await runPier(["run", "-C", repo, "--plain"], isolatedEnv());
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/broken\s+test\s+failed\s+\S+\s+3/);
    expect(run.stdout).toMatch(/allowed\s+test\s+failed \(allowed\)\s+\S+\s+4/);
  });
});
