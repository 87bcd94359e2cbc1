import { join } from "node:path";
import type { BenchCase, FinishedRun, Variant } from "../lib/bench-case.ts";
import { createPipelineRepository } from "../lib/temp-repo.ts";
import { trivialPipeline } from "../generate-pipeline.ts";
import { gitlabCiLocalVariant, pierRunVariant } from "./variants.ts";

const dockerRun = ["docker", "run", "--rm", "--label", "pier.bench=1", "busybox:latest", "true"];

/**
 * gitlab-ci-local pulls its helper (firecow/gitlab-ci-local-util) and wait (sumina46/wait-for-it)
 * images from Docker Hub; offline, busybox stands in: a trivial job without services or
 * artifacts only needs the helper's sh, chown and chmod, and never starts the wait image.
 */
const gitlabCiLocalOffline = ["--helper-image", "busybox:latest", "--wait-image", "busybox:latest"];

function gitlabCiLocalPassed(run: FinishedRun): string | undefined {
  return /PASS\s+job-1/.test(run.stdout) ? undefined : "gitlab-ci-local did not report PASS job-1";
}

export const dockerJobCase: BenchCase = {
  name: "docker-job",
  description:
    "`pier run --executor docker` of one trivial job in `busybox` end to end, against `docker run --rm busybox true` (target: at most 1.5×; gitlab-ci-local 4.73.0 was measured at about 5× in shared/reference/gitlab-ci-local.md).",
  async setup({ root, scratchDir, progress }) {
    const repository = await createPipelineRepository(
      join(scratchDir, "repo"),
      trivialPipeline(1, "busybox:latest"),
    );
    const pier = pierRunVariant(
      { root, scratchDir },
      { id: "pier", repository, executor: "docker", jobs: 1 },
    );
    const baseline: Variant = {
      id: "baseline",
      label: "docker run --rm busybox true",
      command: { argv: dockerRun as [string, ...string[]], cwd: repository },
    };
    const gcl = gitlabCiLocalVariant(
      root,
      ["job-1", ...gitlabCiLocalOffline],
      repository,
      progress,
      gitlabCiLocalPassed,
    );
    return {
      variants: [pier, baseline, gcl],
      targets: [
        {
          kind: "ratio",
          label: "at most 1.5× docker run --rm",
          numerator: "pier",
          denominator: "baseline",
          atMost: 1.5,
        },
      ],
      notes: [
        "gitlab-ci-local runs with `--helper-image busybox:latest --wait-image busybox:latest`: its Docker Hub helper images cannot be pulled here, and this job needs only the helper's sh, chown and chmod.",
      ],
      teardown: () => Promise.resolve(),
    };
  },
};

export const dockerJobsTwentyCase: BenchCase = {
  name: "docker-jobs-20",
  description:
    "`pier run --executor docker --concurrency 4` of 20 trivial busybox jobs, against twenty `docker run --rm busybox true` four at a time (target: at most 1.5×).",
  async setup({ root, scratchDir }) {
    const repository = await createPipelineRepository(
      join(scratchDir, "repo"),
      trivialPipeline(20, "busybox:latest"),
    );
    const pier = pierRunVariant(
      { root, scratchDir },
      { id: "pier", repository, executor: "docker", jobs: 20, extra: ["--concurrency", "4"] },
    );
    const baseline: Variant = {
      id: "baseline",
      label: "20 × docker run --rm busybox true, 4 at a time",
      command: {
        argv: ["bash", "-c", `seq 20 | xargs -P4 -I{} ${dockerRun.join(" ")}`],
        cwd: repository,
      },
    };
    return {
      variants: [pier, baseline],
      targets: [
        {
          kind: "ratio",
          label: "at most 1.5× twenty docker run --rm, four at a time",
          numerator: "pier",
          denominator: "baseline",
          atMost: 1.5,
        },
      ],
      teardown: () => Promise.resolve(),
    };
  },
};
