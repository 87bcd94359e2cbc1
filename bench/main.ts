import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchCases } from "./cases/index.ts";
import { machineFacts } from "./lib/machine.ts";
import { ensurePierBuilt } from "./lib/pier-build.ts";
import { recordSection, renderRecordedSection } from "./lib/record.ts";
import { renderCaseResult } from "./lib/render-case.ts";
import { runCase } from "./lib/run-case.ts";

const usage = `usage: bench/run [case…] [--runs N] [--record] [--slow] [--no-memory] [--list]

Runs the named cases (all when none is named) and prints a table per case.
  --runs N      alternating rounds after the warm-up (default 10)
  --record      write each case's section into BENCHMARKS.md (only cases that passed)
  --slow        also run variants that take minutes (gitlab-ci-local on 10,000 jobs), once
  --no-memory   skip the extra runs that measure peak memory
  --list        list the cases and exit
`;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Every variant's environment comes from this one (see benchmarksIntro).
delete process.env["NODE_EXTRA_CA_CERTS"];

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        runs: { type: "string", default: "10" },
        record: { type: "boolean", default: false },
        slow: { type: "boolean", default: false },
        "no-memory": { type: "boolean", default: false },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`bench/run: ${(error as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (values.list) {
    for (const benchCase of benchCases) {
      process.stdout.write(`${benchCase.name.padEnd(18)} ${benchCase.description}\n`);
    }
    return 0;
  }
  const rounds = Number(values.runs);
  if (!Number.isInteger(rounds) || rounds < 1) {
    process.stderr.write(`bench/run: --runs must be a positive integer, got ${values.runs}\n`);
    return 2;
  }
  const unknown = positionals.filter((name) => !benchCases.some((known) => known.name === name));
  if (unknown.length > 0) {
    process.stderr.write(
      `bench/run: unknown case ${unknown.join(", ")}; known: ${benchCases.map((known) => known.name).join(", ")}\n`,
    );
    return 2;
  }
  const selected =
    positionals.length === 0
      ? benchCases
      : benchCases.filter((benchCase) => positionals.includes(benchCase.name));

  const progress = (text: string): void => {
    process.stderr.write(text);
  };
  let buildNotes: string[];
  try {
    buildNotes = ensurePierBuilt(root, progress);
  } catch (error) {
    process.stderr.write(`bench/run: ${(error as Error).message}\n`);
    return 1;
  }

  let failed = 0;
  const recordFile = join(root, "BENCHMARKS.md");
  for (const benchCase of selected) {
    const result = await runCase(benchCase, {
      root,
      rounds,
      memory: !values["no-memory"],
      includeSlow: values.slow,
      progress,
    });
    result.notes.push(...buildNotes);
    process.stdout.write(
      `\n## ${result.name}\n\n${result.description}\n\n${renderCaseResult(result)}\n`,
    );
    if (result.failure !== undefined) {
      failed += 1;
      continue;
    }
    if (values.record) {
      await recordSection(
        recordFile,
        result.name,
        renderRecordedSection(result, machineFacts(root), new Date()),
      );
      process.stdout.write(`\n(recorded in BENCHMARKS.md)\n`);
    }
  }
  if (values.record) {
    // Keeps BENCHMARKS.md in the project's Markdown format (prettier --check runs in CI).
    spawnSync(join(root, "node_modules", ".bin", "prettier"), ["--write", recordFile], {
      cwd: root,
      stdio: "ignore",
    });
  }
  if (failed > 0) process.stderr.write(`\n${failed} case(s) FAILED\n`);
  return failed > 0 ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
