import { describe, expect, it } from "vitest";
import { jobNamed, planErrors, planFrom } from "./helpers.ts";

// A job's image, services, cache, artifacts, retry and scripts that come from a template it
// extends are read once for all the jobs that share them: each job must still get the values
// and, when they are wrong, its own messages.
describe("keyword values shared by jobs", () => {
  const template = [
    ".t:",
    "  image: { name: img, entrypoint: [''] }",
    "  services: [{ name: db, alias: database }]",
    "  cache: { key: k, paths: [c/] }",
    "  artifacts: { paths: [out/], when: always }",
    "  retry: { max: 2, when: [script_failure] }",
    "  before_script: [[a, b], c]",
    "  script: x",
  ];

  it("give every job the same values", async () => {
    const plan = await planFrom(
      [...template, "one:", "  extends: .t", "two:", "  extends: .t"].join("\n"),
    );
    for (const name of ["one", "two"]) {
      const job = jobNamed(plan, name);
      expect(job.image).toEqual({ name: "img", entrypoint: [""] });
      expect(job.services).toEqual([{ name: "db", alias: "database" }]);
      expect(job.cache.map((cache) => [cache.key, cache.paths])).toEqual([["k", ["c/"]]]);
      expect(job.artifacts?.paths).toEqual(["out/"]);
      expect(job.artifacts?.when).toBe("always");
      expect(job.retry).toEqual({ max: 2, when: ["script_failure"], exitCodes: [] });
      expect(job.beforeScript).toEqual(["a", "b", "c"]);
    }
  });

  it("report a wrong shared value for each job that has it", async () => {
    const errors = await planErrors(
      [
        ".t:",
        "  retry: { max: 5 }",
        "  cache: { key: k, policy: sometimes }",
        "  artifacts: { paths: [out/], when: later }",
        "  services: [{ alias: no-name }]",
        "  script: x",
        "one:",
        "  extends: .t",
        "two:",
        "  extends: .t",
      ].join("\n"),
    );
    for (const name of ["one", "two"]) {
      const own = errors.filter((error) => error.includes(`jobs:${name}:`));
      expect(own.join("\n")).toContain(
        `jobs:${name}:retry config must be an integer between 0 and 2`,
      );
      expect(own.join("\n")).toContain(`jobs:${name}:cache policy should be`);
      expect(own.join("\n")).toContain(`jobs:${name}:artifacts when should be`);
      expect(own.join("\n")).toContain(
        `jobs:${name}:services:service config should contain a name`,
      );
    }
  });
});
