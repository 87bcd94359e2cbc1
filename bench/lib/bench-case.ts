/** One process to start and time. */
export interface BenchCommand {
  argv: [string, ...string[]];
  cwd: string;
  /** Environment for the process; the harness's own environment when absent. */
  env?: NodeJS.ProcessEnv;
  /** Exit code the command must end with (default 0). */
  expectExitCode?: number;
  /** Extra check of a finished run; returns why the run is wrong, or undefined when it is right. */
  check?: (run: FinishedRun) => string | undefined;
  /** Gives up on a run after this many milliseconds (default 15 minutes). */
  timeoutMs?: number;
}

export interface FinishedRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in kilobytes, when measured. */
  peakRssKb?: number;
}

/** A way of doing the case's work: pier, a baseline, gitlab-ci-local, … */
export interface Variant {
  /** Short id used in ratios and targets: "pier", "baseline", "gitlab-ci-local". */
  id: string;
  /** What is run, for the table: "pier list", "node -e 0". */
  label: string;
  command: BenchCommand;
  /** Runs this variant at most this many times in total, without a warm-up (for very slow tools). */
  maxRuns?: number;
  /**
   * Recognises a run that failed because the variant does not exist yet (a command that is
   * still being built); returns the reason. Such a variant is reported as unavailable instead
   * of failing the case.
   */
  unavailableWhen?: (run: FinishedRun) => string | undefined;
  /** Set by setup when the variant cannot run at all (tool missing); the reason is printed. */
  unavailable?: string;
}

/** A goal from the issue, checked against the measured medians and printed with the table. */
export type Target =
  | { kind: "ratio"; label: string; numerator: string; denominator: string; atMost: number }
  | { kind: "difference"; label: string; minuend: string; subtrahend: string; atMostMs: number }
  | { kind: "memory"; label: string; variant: string; atMostMb: number }
  | { kind: "time"; label: string; variant: string; atMostMs: number };

export interface PreparedCase {
  /** The first variant is the subject: ratios are computed as subject / each other variant. */
  variants: Variant[];
  targets?: Target[];
  /** Lines printed under the table (skipped variants, caveats). */
  notes?: string[];
  teardown(): Promise<void>;
}

/** What a case's setup gets from the harness. */
export interface CaseContext {
  /** The pier repository (where bin/pier.js and bench/ live). */
  root: string;
  /** A fresh temporary folder for this case, removed after teardown. */
  scratchDir: string;
  /** Run variants that take minutes (e.g. gitlab-ci-local on 10,000 jobs) instead of skipping them. */
  includeSlow: boolean;
  progress: (text: string) => void;
}

export interface BenchCase {
  name: string;
  description: string;
  /** Builds what the case needs (temporary repositories, tools) in context.scratchDir. */
  setup(context: CaseContext): Promise<PreparedCase>;
}
