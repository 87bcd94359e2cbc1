import { describe, expect, it } from "vitest";
import {
  expandAtRuntime,
  expandJobVariablesAtRuntime,
} from "../../../src/job/runtime-expansion.ts";
import type { JobVariable } from "../../../src/job/spec.ts";

const known = new Map([
  ["A", "alpha"],
  ["B", "$A"],
  ["EMPTY", ""],
]);
const lookup = (name: string): string | undefined => known.get(name);

describe("expandAtRuntime: the runner's os.Expand", () => {
  it.each<[string, string]>([
    ["$A", "alpha"],
    ["${A}", "alpha"],
    ["x${A}y", "xalphay"],
    ["$A$A", "alphaalpha"],
    ["$UNKNOWN", ""],
    ["a-$UNKNOWN-b", "a--b"],
    ["$$", "$"],
    ["$$A", "$A"],
    ["price: 5$", "price: 5$"],
    ["$", "$"],
    ["%A%", "%A%"],
    // One pass: inserted values are not expanded again.
    ["$B", "$A"],
    // Shell specials are emptied.
    ["$1$*$#$@$!$?", ""],
    ["${1}", ""],
    // Bad brace syntax is eaten, as in Go.
    ["${", ""],
    ["a${}b", "ab"],
    ["a${A", "aA"],
    ["$-x", "x"],
    ["$ x", "$ x"],
    ["100%", "100%"],
    ["$A.b", "alpha.b"],
    ["$A-b", "alpha-b"],
  ])("%s -> %s", (input, expected) => {
    expect(expandAtRuntime(input, lookup)).toBe(expected);
  });
});

function variable(key: string, value: string, raw = false): JobVariable {
  return { key, value, raw, public: true, masked: false, file: false };
}

describe("expandJobVariablesAtRuntime", () => {
  it("expands non-raw values once against the received list, last definition winning", () => {
    const result = expandJobVariablesAtRuntime([
      variable("A", "first"),
      variable("RAW", "raw-$A", true),
      variable("C", "$RAW"),
      variable("D", "$$A and $A"),
      variable("A", "second"),
    ]);
    expect(result.map((v) => [v.key, v.value])).toEqual([
      ["A", "first"],
      ["RAW", "raw-$A"],
      ["C", "raw-$A"],
      ["D", "$A and second"],
      ["A", "second"],
    ]);
  });

  it("expands references to file variables to their path when given", () => {
    const config = { ...variable("CONFIG", "secret content"), file: true };
    const result = expandJobVariablesAtRuntime([config, variable("USE", "--config=$CONFIG")], {
      filePath: (key) => `/tmp/job/${key}`,
    });
    expect(result[1]?.value).toBe("--config=/tmp/job/CONFIG");
    expect(result[0]?.value).toBe("secret content");
  });
});
