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
  // for…in instead of Object.values and join: no list per name (a combination has own keys only).
  let name = `${base}: [`;
  let first = true;
  for (const key in values) {
    name += first ? values[key] : `, ${values[key]}`;
    first = false;
  }
  return `${name}]`;
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
  const rows = parallel.matrix;
  const combinations =
    rows.length === 1
      ? matrixCombinations(rows[0] as (typeof rows)[0])
      : rows.flatMap(matrixCombinations);
  const total = combinations.length;
  // Walked from the last: an identical name seen later (kept) drops this one.
  const instances: ParallelInstance[] = [];
  for (let index = total - 1; index >= 0; index--) {
    const matrix = combinations[index] as Record<string, string>;
    const name = matrixJobName(job.name, matrix);
    if (!hasInstanceNamed(instances, name))
      instances.push({ name, index: index + 1, total, matrix });
  }
  return instances.reverse();
}

function hasInstanceNamed(instances: readonly ParallelInstance[], name: string): boolean {
  for (let index = 0; index < instances.length; index++)
    if ((instances[index] as ParallelInstance).name === name) return true;
  return false;
}
