import { describe, expect, it } from "vitest";
import { planErrors } from "../helpers.ts";

// Planning first reads the pipeline with the positions of top-level keys only and looks up no
// position inside a job; a problem anywhere makes it plan again with every position. Messages
// must point at the key or item at fault, as a single full pass would.
describe("positions of problems found in jobs", () => {
  it("points at the stage, the need (a hash item: the item), the dependencies and the keyword at fault", async () => {
    const errors = await planErrors(
      [
        "stages: [build, test]",
        "a:",
        "  stage: nope",
        "  script: x",
        "b:",
        "  stage: build",
        "  needs:",
        "    - c",
        "    - missing",
        "    - job: absent",
        "  dependencies: [gone]",
        "  script: x",
        "c:",
        "  stage: build",
        "  retry: 7",
        "  script: x",
      ].join("\n"),
    );
    expect(errors).toEqual([
      "3:3: a job: chosen stage nope does not exist; available stages are .pre, build, test, .post",
      "7:3: b job: undefined need: missing",
      "10:7: b job: undefined need: absent",
      "11:3: b job: undefined dependency: gone",
      "15:3: jobs:c:retry config must be an integer between 0 and 2 (max)",
    ]);
  });

  it("reports a job's problem at its own keyword when the job extends a template", async () => {
    const errors = await planErrors(
      [".t:", "  script: x", "  when: sometimes", "j:", "  extends: .t", "  stage: test"].join(
        "\n",
      ),
    );
    expect(errors).toEqual([
      "3:3: jobs:j when should be one of: on_success, on_failure, always, manual, delayed",
    ]);
  });
});
