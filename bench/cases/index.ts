import type { BenchCase } from "../lib/bench-case.ts";
import { listThousandJobsCase, listTenThousandJobsCase, listThreeJobsCase } from "./list-jobs.ts";
import { dockerJobCase, dockerJobsTwentyCase } from "./docker-jobs.ts";
import { shellJobCase, shellJobsTwentyCase } from "./shell-jobs.ts";
import { runnerJobStartCase, runnerTraceFiftyMbCase } from "./runner-jobs.ts";
import { startupCase } from "./startup.ts";

/**
 * Every case `bench/run` knows, in the order it runs them. Add new cases here (see
 * bench/README.md): e.g. a shell job end to end against `bash -c` and gitlab-ci-local, or a
 * Docker job against `docker run --rm busybox true`.
 */
export const benchCases: readonly BenchCase[] = [
  startupCase,
  listThreeJobsCase,
  listThousandJobsCase,
  listTenThousandJobsCase,
  shellJobCase,
  shellJobsTwentyCase,
  dockerJobCase,
  dockerJobsTwentyCase,
  runnerJobStartCase,
  runnerTraceFiftyMbCase,
];
