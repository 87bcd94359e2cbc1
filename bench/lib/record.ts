import { readFile, writeFile } from "node:fs/promises";
import type { CaseResult } from "./case-result.ts";
import { formatLoad, type MachineFacts } from "./machine.ts";
import { renderCaseResult } from "./render-case.ts";

export const benchmarksIntro = `# Benchmarks

Measured with \`npm run bench\` (\`bench/run\`); see [bench/README.md](bench/README.md) for the
cases and how to add one. Each section below is written by \`bench/run --record <case>\` and
replaced when the case is recorded again.

Method: every variant of a case runs once as a warm-up, then the variants run in alternating
rounds (A, B, C, A, B, C, …; 10 rounds unless stated) so that a slow phase of the machine
affects them all alike. Wall time is taken from process spawn to exit with
\`performance.now()\`. The tables show the median, minimum and maximum per variant; ratios are
ratios of medians from the same run, never across runs. Peak memory comes from one extra run
per variant under GNU \`time -f %M\` (peak RSS of the largest process of the tree). Every
measured command must exit as expected, or the case fails and is not recorded.
Every variant runs without \`NODE_EXTRA_CA_CERTS\`: Node 20 parses that file before it runs any
JavaScript (about 90 ms per start on the VM these numbers come from, which sets it), so with it
\`node -e 0\` and gitlab-ci-local would measure the file; the installed \`pier\` command does not
read it at start either way (bin/pier.js).
`;

const startMarker = (name: string): string => `<!-- bench:${name} -->`;
const endMarker = (name: string): string => `<!-- /bench:${name} -->`;

/** The Markdown section for one recorded case, between markers so that it can be replaced. */
export function renderRecordedSection(
  result: CaseResult,
  machine: MachineFacts,
  date: Date,
): string {
  const facts = [
    `Recorded ${date.toISOString().replace(/\.\d+Z$/, "Z")} at commit \`${machine.gitCommit}\`,`,
    `Node ${machine.nodeVersion}, ${result.rounds} rounds.`,
    `Machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGb.toFixed(1)} GiB memory,`,
    `load average ${formatLoad(result.loadBefore)} before and ${formatLoad(result.loadAfter)} after.`,
    result.memoryMethod === undefined
      ? "Peak memory not measured."
      : `Peak memory: ${result.memoryMethod}.`,
  ];
  return [
    startMarker(result.name),
    "",
    `## ${result.name}`,
    "",
    `${result.description}`,
    "",
    facts.join(" "),
    "",
    renderCaseResult(result),
    "",
    endMarker(result.name),
  ].join("\n");
}

/** Replaces the case's section in the document, or appends it; adds the intro to an empty document. */
export function upsertSection(document: string, name: string, section: string): string {
  const base = document.trim() === "" ? benchmarksIntro : document;
  const start = base.indexOf(startMarker(name));
  const end = base.indexOf(endMarker(name));
  if (start !== -1 && end > start) {
    return base.slice(0, start) + section + base.slice(end + endMarker(name).length);
  }
  return `${base.trimEnd()}\n\n${section}\n`;
}

export async function recordSection(file: string, name: string, section: string): Promise<void> {
  const document = await readFile(file, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  await writeFile(file, upsertSection(document, name, section));
}
