import { join } from "node:path";
import type { BenchCommand, FinishedRun, Variant } from "../lib/bench-case.ts";
import { environmentForGitlabCiLocal, ensureGitlabCiLocal } from "../lib/gitlab-ci-local.ts";

/** Ready-made variants shared by the cases. */

export function nodeBaseline(cwd: string): Variant {
  return {
    id: "baseline",
    label: "node -e 0",
    command: { argv: [process.execPath, "-e", "0"], cwd },
  };
}

/** pier from the build (bin/pier.js → dist/), started the way users start it: the `pier` command. */
export function pierVariant(
  root: string,
  id: string,
  args: string[],
  cwd: string,
  check?: BenchCommand["check"],
): Variant {
  const command: BenchCommand = {
    argv: [join(root, "bin", "pier.js"), ...args],
    cwd,
  };
  if (check !== undefined) command.check = check;
  return {
    id,
    // Temporary folders make poor table cells.
    label: `pier ${args.map((arg) => (arg.startsWith(cwd) ? "<repo>" : arg)).join(" ")}`,
    command,
    // A command still being built answers "pier <command> is not available yet"; that is a
    // missing variant, not a slow or broken one.
    unavailableWhen: (run) =>
      /not available yet/.test(run.stderr) ? run.stderr.trim().split("\n")[0] : undefined,
  };
}

export function gitlabCiLocalVariant(
  root: string,
  args: string[],
  cwd: string,
  progress: (text: string) => void,
  check?: BenchCommand["check"],
): Variant {
  const availability = ensureGitlabCiLocal(root, progress);
  const entry = "entry" in availability ? availability.entry : "gitlab-ci-local";
  const command: BenchCommand = {
    argv: [process.execPath, entry, ...args],
    cwd,
    env: environmentForGitlabCiLocal(),
  };
  if (check !== undefined) command.check = check;
  const variant: Variant = {
    id: "gitlab-ci-local",
    label: `gitlab-ci-local ${args.join(" ")}`,
    command,
  };
  if ("unavailable" in availability) variant.unavailable = availability.unavailable;
  return variant;
}

/** A check that the output names these jobs, so a run that listed nothing cannot pass as fast. */
export function mentionsJobs(names: readonly string[]): (run: FinishedRun) => string | undefined {
  return (run) => {
    const missing = names.filter((name) => !run.stdout.includes(name));
    return missing.length === 0 ? undefined : `output does not list ${missing.join(", ")}`;
  };
}

/** pier's state and config in the case's scratch folder, so runs neither share nor leave anything. */
export function isolated(variant: Variant, scratchDir: string): Variant {
  variant.command.env = {
    ...process.env,
    XDG_STATE_HOME: join(scratchDir, "state"),
    XDG_CONFIG_HOME: join(scratchDir, "config"),
  };
  return variant;
}

/**
 * `pier run -C <repository> --executor E --plain [extra]` with its state and config in the
 * case's scratch folder, checked to end at least `jobs` jobs successfully.
 */
export function pierRunVariant(
  context: { root: string; scratchDir: string },
  o: {
    id: string;
    repository: string;
    executor: "shell" | "docker";
    jobs: number;
    extra?: string[];
  },
): Variant {
  const args = ["run", "-C", o.repository, "--executor", o.executor, "--plain", ...(o.extra ?? [])];
  return isolated(
    pierVariant(context.root, o.id, args, o.repository, succeeded(o.jobs)),
    context.scratchDir,
  );
}

/** A check that `pier run`'s summary shows at least this many successful jobs. */
export function succeeded(jobs: number): (run: FinishedRun) => string | undefined {
  return (run) => {
    const successes = run.stdout.match(/ success /g)?.length ?? 0;
    return successes >= jobs ? undefined : `expected ${jobs} successful jobs in the summary`;
  };
}
