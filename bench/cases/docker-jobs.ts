import { join } from "node:path";
import type { BenchCase, Variant } from "../lib/bench-case.ts";
import { createRepository } from "../lib/temp-repo.ts";
import { benchBranch } from "../generate-pipeline.ts";
import { isolated, pierVariant, succeeded } from "./variants.ts";

function trivialJobs(count: number): string {
  return (
    "image: busybox:latest\n" +
    Array.from({ length: count }, (_, i) => `job-${i + 1}:\n  script: ["true"]\n`).join("")
  );
}

const dockerRun = ["docker", "run", "--rm", "--label", "pier.bench=1", "busybox:latest", "true"];

export const dockerJobCase: BenchCase = {
  name: "docker-job",
  description:
    "`pier run --executor docker` of one trivial job in `busybox` end to end, against `docker run --rm busybox true` (target: at most 1.5×; gitlab-ci-local 4.73.0 was measured at about 5× in shared/reference/gitlab-ci-local.md).",
  async setup({ root, scratchDir }) {
    const repository = join(scratchDir, "repo");
    await createRepository(repository, {
      files: { ".gitlab-ci.yml": trivialJobs(1) },
      branch: benchBranch,
    });
    const pier = isolated(
      pierVariant(
        root,
        "pier",
        ["run", "-C", repository, "--executor", "docker", "--plain"],
        repository,
        succeeded(1),
      ),
      scratchDir,
    );
    const baseline: Variant = {
      id: "baseline",
      label: "docker run --rm busybox true",
      command: { argv: dockerRun as [string, ...string[]], cwd: repository },
    };
    return {
      variants: [pier, baseline],
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
        "gitlab-ci-local is not run here: offline it needs locally built --helper-image/--wait-image stand-ins (not built yet).",
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
    const repository = join(scratchDir, "repo");
    await createRepository(repository, {
      files: { ".gitlab-ci.yml": trivialJobs(20) },
      branch: benchBranch,
    });
    const pier = isolated(
      pierVariant(
        root,
        "pier",
        ["run", "-C", repository, "--executor", "docker", "--plain", "--concurrency", "4"],
        repository,
        succeeded(20),
      ),
      scratchDir,
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
