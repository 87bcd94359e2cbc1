import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchCase, PreparedCase, Variant } from "./bench-case.ts";
import { newVariantResult, type CaseResult, type VariantResult } from "./case-result.ts";
import { measure, memoryMethod, runProblem } from "./measure.ts";

export interface RunOptions {
  root: string;
  rounds: number;
  memory: boolean;
  includeSlow: boolean;
  /** Progress for people watching (stderr); not part of the results. */
  progress: (text: string) => void;
}

/**
 * Runs one case: setup, one warm-up of each variant, then `rounds` rounds that run every
 * variant once in turn (A, B, C, A, B, C, …) so that a slow phase of the machine hits them all,
 * then one extra run per variant under GNU time for peak memory, then teardown.
 */
export async function runCase(benchCase: BenchCase, options: RunOptions): Promise<CaseResult> {
  const result: CaseResult = {
    name: benchCase.name,
    description: benchCase.description,
    rounds: options.rounds,
    variants: [],
    targets: [],
    notes: [],
    loadBefore: loadavg(),
    loadAfter: [],
  };
  const method = options.memory ? memoryMethod() : undefined;
  if (method !== undefined) result.memoryMethod = method;
  const scratch = await mkdtemp(join(tmpdir(), `pier-bench-${benchCase.name}-`));
  let prepared: PreparedCase | undefined;
  try {
    options.progress(`${benchCase.name}: setting up…`);
    prepared = await benchCase.setup({
      root: options.root,
      scratchDir: scratch,
      includeSlow: options.includeSlow,
      progress: options.progress,
    });
    result.targets = prepared.targets ?? [];
    result.notes = prepared.notes ?? [];
    const pairs = prepared.variants.map((variant) => ({
      variant,
      result: newVariantResult(variant),
    }));
    result.variants = pairs.map((pair) => pair.result);
    await measureAll(pairs, options, method !== undefined);
    const failed = pairs.filter((pair) => pair.result.status === "failed");
    if (failed.length > 0) {
      result.failure = failed
        .map((pair) => `${pair.variant.id} (${pair.variant.label}) ${pair.result.reason ?? ""}`)
        .join("; ");
    }
  } catch (error) {
    result.failure = error instanceof Error ? error.message : String(error);
  } finally {
    options.progress("\n");
    await prepared?.teardown().catch((error: unknown) => {
      result.notes.push(`teardown failed: ${String(error)}`);
    });
    await rm(scratch, { recursive: true, force: true });
    result.loadAfter = loadavg();
  }
  return result;
}

interface Pair {
  variant: Variant;
  result: VariantResult;
}

async function measureAll(pairs: Pair[], options: RunOptions, withMemory: boolean): Promise<void> {
  const active = (): Pair[] =>
    pairs.filter((pair) => pair.result.status === "not-run" || pair.result.status === "measured");
  for (const pair of active()) {
    if (pair.variant.maxRuns !== undefined) continue;
    options.progress(` warm-up ${pair.variant.id}`);
    await runOnce(pair, false, false);
  }
  for (let round = 1; round <= options.rounds; round++) {
    options.progress(`\n round ${round}/${options.rounds}:`);
    for (const pair of active()) {
      const maxRuns = pair.variant.maxRuns;
      if (maxRuns !== undefined && pair.result.wallMs.length >= maxRuns) continue;
      options.progress(` ${pair.variant.id}`);
      // A variant limited to a few runs gets its memory from those runs.
      await runOnce(pair, true, withMemory && maxRuns !== undefined);
    }
  }
  if (!withMemory) return;
  options.progress("\n memory:");
  for (const pair of active()) {
    if (pair.variant.maxRuns !== undefined) continue;
    options.progress(` ${pair.variant.id}`);
    await runOnce(pair, false, true);
  }
}

async function runOnce(pair: Pair, keepTime: boolean, withMemory: boolean): Promise<void> {
  const run = await measure(pair.variant.command, withMemory);
  const problem = runProblem(pair.variant.command, run);
  if (problem !== undefined) {
    const unavailable = pair.variant.unavailableWhen?.(run);
    if (unavailable !== undefined && pair.result.wallMs.length === 0) {
      pair.result.status = "unavailable";
      pair.result.reason = unavailable;
      return;
    }
    // A failed variant stops running and fails the case; the others are still measured.
    pair.result.status = "failed";
    pair.result.reason = problem;
    return;
  }
  pair.result.status = "measured";
  if (keepTime) pair.result.wallMs.push(run.wallMs);
  if (run.peakRssKb !== undefined) {
    pair.result.peakRssKb = Math.max(pair.result.peakRssKb ?? 0, run.peakRssKb);
  }
}
