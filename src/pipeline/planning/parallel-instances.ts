import { setKey } from "../load/plain-object.ts";
import type { JobModel } from "../model/pipeline-model.ts";

export interface ParallelInstance {
  name: string;
  index: number;
  total: number;
  matrix?: Record<string, string>;
}

/** GitLab's matrix instance name: `job: [v1, v2]` (values in key order, keys not shown). */
export function matrixJobName(base: string, values: Record<string, string>): string {
  return `${base}: [${Object.values(values).join(", ")}]`;
}

/** Every combination of one matrix row, in key order. */
export function matrixCombinations(row: Record<string, string[]>): Array<Record<string, string>> {
  const keys = Object.keys(row);
  const lists = keys.map((key) => row[key] as string[]);
  let count = 1;
  for (const list of lists) count *= list.length;
  // Combination i picks, for each key, the value at i's digit in the mixed radix of the list
  // lengths (the first key's digit most significant): the first key's values vary slowest.
  const combinations: Array<Record<string, string>> = [];
  for (let index = 0; index < count; index++) {
    const combination: Record<string, string> = {};
    let rest = index;
    let place = count;
    for (let column = 0; column < keys.length; column++) {
      const list = lists[column] as string[];
      place /= list.length;
      setKey(combination, keys[column] as string, list[Math.floor(rest / place)]);
      rest %= place;
    }
    combinations.push(combination);
  }
  return combinations;
}

/**
 * The concrete jobs of `parallel: N` (`job 1/N` … `job N/N`) or `parallel:matrix` (rows in
 * order, combinations numbered across rows; identical names: the later one wins).
 */
export function parallelInstances(job: JobModel): ParallelInstance[] | undefined {
  if (!job.parallel) return undefined;
  // Validation and planning both ask: the instances are made once per job.
  let instances = expanded.get(job);
  if (!instances) {
    instances = expand(job);
    expanded.set(job, instances);
  }
  return instances;
}

const expanded = new WeakMap<JobModel, ParallelInstance[]>();

function expand(job: JobModel): ParallelInstance[] {
  const parallel = job.parallel;
  if (!parallel) return [];
  if ("total" in parallel) {
    return Array.from({ length: parallel.total }, (_, i) => ({
      name: `${job.name} ${i + 1}/${parallel.total}`,
      index: i + 1,
      total: parallel.total,
    }));
  }
  const combinations = parallel.matrix.flatMap(matrixCombinations);
  const byName = new Map<string, ParallelInstance>();
  combinations.forEach((matrix, i) => {
    const name = matrixJobName(job.name, matrix);
    byName.delete(name);
    byName.set(name, { name, index: i + 1, total: combinations.length, matrix });
  });
  return [...byName.values()];
}
