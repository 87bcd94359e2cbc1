import { join } from "node:path";
import type { BenchCase, Variant } from "../lib/bench-case.ts";
import { createPipelineRepository } from "../lib/temp-repo.ts";
import { trivialPipeline } from "../generate-pipeline.ts";
import { gitlabCiLocalVariant, pierRunVariant } from "./variants.ts";

export const shellJobCase: BenchCase = {
  name: "shell-job",
  description:
    "`pier run` of one trivial shell job end to end (plan, fresh checkout, script, summary), against `bash -c true` and `gitlab-ci-local` on the same repository (targets: at most 300 ms; at least 2.5× faster than gitlab-ci-local; peak memory under 150 MB).",
  async setup({ root, scratchDir, progress }) {
    const repository = await createPipelineRepository(join(scratchDir, "repo"), trivialPipeline(1));
    const pier = pierRunVariant(
      { root, scratchDir },
      { id: "pier", repository, executor: "shell", jobs: 1 },
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
    const oneAtATime = async (id: string, jobs: number, folder: string): Promise<Variant> =>
      pierRunVariant(
        { root, scratchDir },
        {
          id,
          repository: await createPipelineRepository(
            join(scratchDir, folder),
            trivialPipeline(jobs),
          ),
          executor: "shell",
          jobs,
          extra: ["--concurrency", "1"],
        },
      );
    return {
      variants: [await oneAtATime("pier-20", 20, "twenty"), await oneAtATime("pier-1", 1, "one")],
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
