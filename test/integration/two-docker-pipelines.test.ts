import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, finished, startPier } from "../support/pier-cli.ts";
import { makeSeedRepository } from "../support/seed-repository.ts";
import {
  docker,
  removeKeptVolumesOf,
  requireDocker,
  unkeptObjectsLabelled,
} from "./docker-helpers.ts";

const storageVolume = `pier-test-two-runs-registry-${String(process.pid)}`;

interface Report {
  status: string;
  jobs: Array<{ name: string; status: string; log?: string }>;
}

/** Jobs added to the seed pipeline: short ones at once, and one with a PostgreSQL service. */
const extraJobs = `
quick:
    stage: test
    image: busybox:latest
    services: []
    parallel: 3
    script:
        - echo "quick $CI_NODE_INDEX in $CI_PROJECT_DIR"
        - sleep 1

with-db:
    stage: test
    image: postgres:15
    services:
        -   name: postgres:15
            alias: db
    variables:
        POSTGRES_PASSWORD: secret
    script:
        - until pg_isready -q -h db; do sleep 1; done
        - PGPASSWORD=secret psql -h db -U postgres -tAc 'select 40 + 2'
`;

describe("two docker pipelines of one repository at once", () => {
  let work: string;
  const pids: number[] = [];

  beforeAll(async () => {
    await requireDocker();
    ensureBuilt();
    work = mkdtempSync(join(tmpdir(), "pier-two-runs-"));
  });

  afterAll(async () => {
    await removeKeptVolumesOf(pids);
    await docker(["volume", "rm", "-f", storageVolume]);
    rmSync(work, { recursive: true, force: true });
  });

  it("both finish green at concurrency 4, each with a DinD build, without a clash, and leave nothing", async () => {
    const repo = makeSeedRepository(join(work, "repo"), storageVolume, extraJobs);

    const env = { XDG_STATE_HOME: join(work, "state"), XDG_CONFIG_HOME: join(work, "config") };
    const reports = [join(work, "first.json"), join(work, "second.json")];
    const children = reports.map((report) =>
      startPier(
        [
          "run",
          "-C",
          repo,
          "--executor",
          "docker",
          "--config",
          join(repo, "config.toml"),
          "--concurrency",
          "4",
          "--plain",
          "--report",
          report,
        ],
        env,
      ),
    );
    pids.push(...children.map((child) => child.pid!));
    const runs = await Promise.all(children.map((child) => finished(child)));

    for (const [index, reportFile] of reports.entries()) {
      const run = runs[index]!;
      if (!existsSync(reportFile)) {
        throw new Error(`pier run wrote no report:\n${run.stdout}${run.stderr}`);
      }
      const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
      const logs = report.jobs
        .map((job) => (job.log === undefined ? "" : readFileSync(job.log, "utf8")))
        .join("\n");
      expect(run.code, `${run.stdout}${run.stderr}\n${logs}`).toBe(0);
      expect(report.jobs.map((job) => [job.name, job.status]).sort()).toEqual([
        ["docker-build", "success"],
        ["quick 1/3", "success"],
        ["quick 2/3", "success"],
        ["quick 3/3", "success"],
        ["test-suite", "success"],
        ["with-db", "success"],
      ]);
      expect(logs).toContain("all tests passed");
      expect(logs).toMatch(/^42$/m);
    }
    for (const child of children)
      expect(await unkeptObjectsLabelled(`pier.pid=${String(child.pid!)}`)).toEqual([]);
  }, 900_000);
});
