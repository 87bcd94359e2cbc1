import { join } from "node:path";
import type { BenchCase, Variant } from "../lib/bench-case.ts";
import { createRepository } from "../lib/temp-repo.ts";
import { benchBranch } from "../generate-pipeline.ts";
import { gitlabCiLocalVariant, isolated, pierVariant, succeeded } from "./variants.ts";

function trivialJobs(count: number): string {
  return Array.from({ length: count }, (_, i) => `job-${i + 1}:\n  script: ["true"]\n`).join("");
}

export const shellJobCase: BenchCase = {
  name: "shell-job",
  description:
    "`pier run` of one trivial shell job end to end (plan, fresh checkout, script, summary), against `bash -c true` and `gitlab-ci-local` on the same repository (targets: at most 300 ms; at least 2.5× faster than gitlab-ci-local; peak memory under 150 MB).",
  async setup({ root, scratchDir, progress }) {
    const repository = join(scratchDir, "repo");
    await createRepository(repository, {
      files: { ".gitlab-ci.yml": trivialJobs(1) },
      branch: benchBranch,
    });
    const pier = isolated(
      pierVariant(
        root,
        "pier",
        ["run", "-C", repository, "--executor", "shell", "--plain"],
        repository,
        succeeded(1),
      ),
      scratchDir,
    );
    const bash: Variant = {
      id: "baseline",
      label: "bash -c true",
      command: { argv: ["bash", "-c", "true"], cwd: repository },
    };
    const gcl = gitlabCiLocalVariant(root, ["job-1"], repository, progress);
    return {
      variants: [pier, bash, gcl],
      targets: [
        {
          kind: "time",
          label: "one trivial shell job at most 300 ms",
          variant: "pier",
          atMostMs: 300,
        },
        {
          kind: "ratio",
          label: "at least 2.5× faster than gitlab-ci-local",
          numerator: "pier",
          denominator: "gitlab-ci-local",
          atMost: 0.4,
        },
        { kind: "memory", label: "peak memory under 150 MB", variant: "pier", atMostMb: 150 },
      ],
      teardown: () => Promise.resolve(),
    };
  },
};

export const shellJobsTwentyCase: BenchCase = {
  name: "shell-jobs-20",
  description:
    "`pier run --concurrency 1` of 20 trivial shell jobs against the same with 1 job: the cost of each job beyond the first (target: at most 15 ms each, so at most 285 ms for the 19 extra).",
  async setup({ root, scratchDir }) {
    const twenty = join(scratchDir, "twenty");
    const one = join(scratchDir, "one");
    await createRepository(twenty, {
      files: { ".gitlab-ci.yml": trivialJobs(20) },
      branch: benchBranch,
    });
    await createRepository(one, {
      files: { ".gitlab-ci.yml": trivialJobs(1) },
      branch: benchBranch,
    });
    const args = (repo: string): string[] => [
      "run",
      "-C",
      repo,
      "--executor",
      "shell",
      "--plain",
      "--concurrency",
      "1",
    ];
    return {
      variants: [
        isolated(pierVariant(root, "pier-20", args(twenty), twenty, succeeded(20)), scratchDir),
        isolated(pierVariant(root, "pier-1", args(one), one, succeeded(1)), scratchDir),
      ],
      targets: [
        {
          kind: "difference",
          label: "19 extra jobs cost at most 285 ms (15 ms each)",
          minuend: "pier-20",
          subtrahend: "pier-1",
          atMostMs: 285,
        },
        { kind: "memory", label: "peak memory under 150 MB", variant: "pier-20", atMostMb: 150 },
      ],
      teardown: () => Promise.resolve(),
    };
  },
};
