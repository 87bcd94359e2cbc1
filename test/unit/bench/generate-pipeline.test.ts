import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generatePipeline } from "../../../bench/generate-pipeline.ts";

type Job = Record<string, unknown> & {
  extends?: string | string[];
  parallel?: { matrix: Record<string, string[]>[] };
  needs?: string[];
};

/** Counts jobs the way GitLab shows them: visible keys that are not keywords, matrix expanded. */
function countJobs(document: Record<string, unknown>): number {
  const keywords = new Set(["stages", "variables", "default", "workflow", "include"]);
  let count = 0;
  for (const [name, value] of Object.entries(document)) {
    if (name.startsWith(".") || keywords.has(name)) continue;
    const matrix = (value as Job).parallel?.matrix;
    count += matrix
      ? matrix.reduce(
          (sum, entry) =>
            sum + Object.values(entry).reduce((product, values) => product * values.length, 1),
          0,
        )
      : 1;
  }
  return count;
}

function parsePipeline(yaml: string): Record<string, unknown> {
  // `!reference` is GitLab's tag; keep it as a plain sequence for counting. Every component
  // job merges an anchor, so a large pipeline has far more aliases than yaml's default limit.
  return parse(yaml, {
    merge: true,
    maxAliasCount: -1,
    customTags: [{ tag: "!reference", collection: "seq", resolve: (value) => value }],
  }) as Record<string, unknown>;
}

describe("benchmark pipeline generator", () => {
  it.each([1, 7, 100, 1000])("writes exactly %i jobs", (jobs) => {
    const pipeline = generatePipeline({ jobs });
    expect(pipeline.jobNames).toHaveLength(jobs);
    expect(new Set(pipeline.jobNames).size).toBe(jobs);
    expect(countJobs(parsePipeline(pipeline.yaml))).toBe(jobs);
  });

  it("is deterministic for a seed and differs between seeds", () => {
    expect(generatePipeline({ jobs: 300, seed: 7 }).yaml).toBe(
      generatePipeline({ jobs: 300, seed: 7 }).yaml,
    );
    expect(generatePipeline({ jobs: 300, seed: 7 }).yaml).not.toBe(
      generatePipeline({ jobs: 300, seed: 8 }).yaml,
    );
  });

  it("uses the features the benchmark is meant to exercise", () => {
    const { yaml } = generatePipeline({ jobs: 200 });
    for (const feature of [
      "<<: [*job-defaults",
      "!reference [",
      "rules:",
      "if: $",
      "parallel:",
      "matrix:",
      "needs:",
      "services:",
      "cache:",
      "artifacts:",
      "image:",
      "variables:",
    ]) {
      expect(yaml).toContain(feature);
    }
    const document = parsePipeline(yaml);
    const test = document["test-svc-0001"] as Job;
    expect(test.extends).toEqual([expect.stringMatching(/^\.lang-\w+-test$/), ".rules-default"]);
    // Templates extend templates: .lang-*-test → .lang-* → .base.
    const templates = Object.entries(document).filter(([name]) => name.startsWith(".lang-"));
    expect(templates.some(([, value]) => String((value as Job).extends).startsWith(".lang-"))).toBe(
      true,
    );
    // Every need names a job of the pipeline.
    const names = new Set(Object.keys(document));
    for (const value of Object.values(document)) {
      for (const need of (value as Job).needs ?? []) expect(names.has(need)).toBe(true);
    }
  });

  it("rejects a job count that is not a positive integer", () => {
    expect(() => generatePipeline({ jobs: 0 })).toThrow(/positive integer/);
  });
});
