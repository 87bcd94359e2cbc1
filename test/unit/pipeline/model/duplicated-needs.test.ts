import { describe, expect, it } from "vitest";
import { planErrors } from "../helpers.ts";

const matrixJob = `a:
  stage: build
  script: x
  parallel:
    matrix:
      - OS: [linux, mac]
b:
  stage: build
  script: x
`;

describe("duplicated needs", () => {
  it("names each job needed twice once, in the order of the later needs", async () => {
    const errors = await planErrors(`${matrixJob}x:
  script: x
  needs: [b, a, b, a, b]
`);
    expect(errors.filter((error) => error.includes("duplicated"))).toEqual([
      "12:3: x has the following needs duplicated: b, a.",
    ]);
  });

  it("tells needs of one matrix instance from the job's other needs", async () => {
    const distinct = await planErrors(`${matrixJob}x:
  script: x
  needs:
    - a
    - job: a
      parallel:
        matrix:
          - OS: linux
    - job: a
      parallel:
        matrix:
          - OS: mac
`);
    expect(distinct.filter((error) => error.includes("duplicated"))).toEqual([]);
    const same = await planErrors(`${matrixJob}x:
  script: x
  needs:
    - job: a
      parallel:
        matrix:
          - OS: linux
    - b
    - job: a
      parallel:
        matrix:
          - OS: linux
`);
    expect(same.filter((error) => error.includes("duplicated"))).toEqual([
      "12:3: x has the following needs duplicated: a.",
    ]);
  });
});
