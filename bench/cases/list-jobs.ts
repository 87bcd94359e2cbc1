import { join } from "node:path";
import type { BenchCase, Variant } from "../lib/bench-case.ts";
import { createPipelineRepository } from "../lib/temp-repo.ts";
import { writePipelineRepository } from "../generate-pipeline.ts";
import { gitlabCiLocalVariant, mentionsJobs, nodeBaseline, pierVariant } from "./variants.ts";

const threeJobPipeline = `stages: [build, test, deploy]

variables:
  APP: demo

build:
  stage: build
  image: node:20
  script:
    - npm ci
    - npm run build
  artifacts:
    paths: [dist/]

test:
  stage: test
  image: node:20
  needs: [build]
  script:
    - npm test

deploy:
  stage: deploy
  image: alpine:3.20
  rules:
    - if: $CI_COMMIT_BRANCH
  script:
    - echo "deploying $APP"
`;

export const listThreeJobsCase: BenchCase = {
  name: "list-3-jobs",
  description:
    "`pier list` on a hand-written 3-job pipeline, against `node -e 0` (target: at most 2×) and `gitlab-ci-local --list`.",
  async setup({ root, scratchDir, progress }) {
    const repository = await createPipelineRepository(join(scratchDir, "repo"), threeJobPipeline);
    const listsAll = mentionsJobs(["build", "test", "deploy"]);
    return {
      variants: [
        pierVariant(root, "pier", ["list", "-C", repository], repository, listsAll),
        nodeBaseline(repository),
        gitlabCiLocalVariant(root, ["--list"], repository, progress, listsAll),
      ],
      targets: [
        {
          kind: "ratio",
          label: "pier list at most 2× node -e 0",
          numerator: "pier",
          denominator: "baseline",
          atMost: 2,
        },
      ],
      teardown: () => Promise.resolve(),
    };
  },
};

export const listThousandJobsCase: BenchCase = {
  name: "list-1000-jobs",
  description:
    "`pier list` against `gitlab-ci-local --list` on a generated 1,000-job pipeline (bench/generate-pipeline.ts: extends over several levels, anchors, `!reference`, `rules:if`, `parallel:matrix`, `needs`, services, cache, artifacts); `pier --version` runs alongside to separate start-up from compile time.",
  async setup({ root, scratchDir, progress }) {
    const repository = join(scratchDir, "repo");
    const pipeline = await writePipelineRepository(repository, { jobs: 1000 });
    const listsAll = mentionsJobs(edgeJobs(pipeline.jobNames));
    return {
      variants: [
        pierVariant(root, "pier", ["list", "-C", repository], repository, listsAll),
        pierVariant(root, "pier-startup", ["--version"], repository),
        gitlabCiLocalVariant(root, ["--list"], repository, progress, listsAll),
      ],
      targets: [
        {
          kind: "ratio",
          label: "pier at least 10× faster than gitlab-ci-local (ratio at most 0.1)",
          numerator: "pier",
          denominator: "gitlab-ci-local",
          atMost: 0.1,
        },
        {
          kind: "difference",
          label: "pier's own compile time (pier list − pier --version) under 150 ms",
          minuend: "pier",
          subtrahend: "pier-startup",
          atMostMs: 150,
        },
      ],
      teardown: () => Promise.resolve(),
    };
  },
};

export const listTenThousandJobsCase: BenchCase = {
  name: "list-10000-jobs",
  description:
    "`pier list` on a generated 10,000-job pipeline, against `pier list` on the 1,000-job one from the same generator (target: at most 12×; peak memory under 200 MB). gitlab-ci-local is quadratic here and runs only with --slow, once.",
  async setup({ root, scratchDir, progress, includeSlow }) {
    const large = join(scratchDir, "repo-10000");
    const small = join(scratchDir, "repo-1000");
    const largePipeline = await writePipelineRepository(large, { jobs: 10_000 });
    const smallPipeline = await writePipelineRepository(small, { jobs: 1000 });
    const variants: Variant[] = [
      pierVariant(
        root,
        "pier",
        ["list", "-C", large],
        large,
        mentionsJobs(edgeJobs(largePipeline.jobNames)),
      ),
      pierVariant(
        root,
        "pier-1000",
        ["list", "-C", small],
        small,
        mentionsJobs(edgeJobs(smallPipeline.jobNames)),
      ),
    ];
    const notes: string[] = [];
    if (includeSlow) {
      const gitlabCiLocal = gitlabCiLocalVariant(
        root,
        ["--list"],
        large,
        progress,
        mentionsJobs(edgeJobs(largePipeline.jobNames)),
      );
      variants.push({
        ...gitlabCiLocal,
        maxRuns: 1,
        command: { ...gitlabCiLocal.command, timeoutMs: 4 * 3600_000 },
      });
      notes.push(
        "gitlab-ci-local ran once, without a warm-up (its --list is quadratic in the pipeline size).",
      );
    } else {
      notes.push(
        "gitlab-ci-local skipped: its --list grows faster than quadratically on this pipeline (one run took 21 s at 1,000 jobs and 182 s at 2,000 jobs on the 2-core development VM, under load), so 10,000 jobs would take hours; run with --slow to measure it once.",
      );
    }
    return {
      variants,
      targets: [
        {
          kind: "ratio",
          label: "10,000 jobs at most 12× the 1,000-job time",
          numerator: "pier",
          denominator: "pier-1000",
          atMost: 12,
        },
        {
          kind: "memory",
          label: "pier peak memory at 10,000 jobs under 200 MB",
          variant: "pier",
          atMostMb: 200,
        },
      ],
      notes,
      teardown: () => Promise.resolve(),
    };
  },
};

/** The first and last plain (non-matrix) job names: enough to tell a full listing from a partial one. */
function edgeJobs(jobNames: readonly string[]): string[] {
  const plain = jobNames.filter((name) => !name.includes(": ["));
  return [plain[0], plain.at(-1)].filter((name): name is string => name !== undefined);
}
