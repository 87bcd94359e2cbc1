import { describe, expect, it } from "vitest";
import {
  expandValue,
  resolveVariables,
  type PipelineVariable,
} from "../../../../src/pipeline/variables/expand.ts";

const known = new Map([
  ["variable", "value"],
  ["variable2", "result"],
  ["variable3", "$variable"],
]);
const lookup = (name: string): string | undefined => known.get(name);

describe("expandValue: one GitLab-side pass, unknown references kept", () => {
  it.each<[string, string]>([
    ["key$variable", "keyvalue"],
    ["key${variable}", "keyvalue"],
    ["key%variable%", "keyvalue"],
    ["key$variable$variable2", "keyvalueresult"],
    ["key${variable}${variable2}", "keyvalueresult"],
    ["key%variable%%variable2%", "keyvalueresult"],
    // A value that itself references a variable is not expanded again by one pass.
    ["key$variable3", "key$variable"],
    ["key$variable$missing", "keyvalue$missing"],
    ["key${variable}${missing}", "keyvalue${missing}"],
    ["key%variable%%missing%", "keyvalue%missing%"],
    // Escapes are kept as written.
    ["$$variable", "$$variable"],
    ["%%variable%%", "%%variable%%"],
    ["cost: 100%", "cost: 100%"],
    ["${}", "${}"],
    ["$1 $_x", "$1 $_x"],
    ["plain", "plain"],
  ])("%s -> %s", (input, expected) => {
    expect(expandValue(input, lookup)).toBe(expected);
  });
});

function plain(value: string): PipelineVariable {
  return { value, expand: true };
}
function raw(value: string): PipelineVariable {
  return { value, expand: false };
}

describe("resolveVariables (GitLab's sort_and_expand_all)", () => {
  it("expands chains in any order", () => {
    const { values, errors } = resolveVariables([
      ["variable4", plain("key$variable$variable3")],
      ["variable", plain("value")],
      ["variable3", plain("key$variable$variable2")],
      ["variable2", plain("result")],
    ]);
    expect(errors).toEqual([]);
    expect(values.get("variable4")).toBe("keyvaluekeyvalueresult");
    expect(values.get("variable3")).toBe("keyvalueresult");
  });

  it("keeps escapes and unknown references", () => {
    const { values } = resolveVariables([
      ["variable", plain("value")],
      ["variable2", plain("key_${variable}_$${HOME}_%%HOME%%")],
      ["PASSWORD", plain("my_password$$_%%_$variable")],
      ["UNKNOWN", plain("a $NOPE b")],
    ]);
    expect(values.get("variable2")).toBe("key_value_$${HOME}_%%HOME%%");
    expect(values.get("PASSWORD")).toBe("my_password$$_%%_value");
    expect(values.get("UNKNOWN")).toBe("a $NOPE b");
  });

  it("removes unknown references when asked", () => {
    const { values } = resolveVariables([["A", plain("a-$NOPE-b")]], { keepUndefined: false });
    expect(values.get("A")).toBe("a--b");
  });

  it("reports cycles and leaves every value as written", () => {
    const { values, errors } = resolveVariables([
      ["variable", plain("$variable2")],
      ["variable2", plain("$variable3")],
      ["variable3", plain("key$variable$variable2")],
      ["other", plain("x$variable")],
    ]);
    expect(errors).toEqual([
      'circular variable reference detected: ["variable", "variable2", "variable3"]',
    ]);
    expect(values.get("other")).toBe("x$variable");
  });

  it("a later entry overrides an earlier one, also for references made before it", () => {
    const { values } = resolveVariables([
      ["B", plain("predefined")],
      ["A", plain("$B")],
      ["B", plain("job")],
    ]);
    expect(values.get("A")).toBe("job");
    expect(values.get("B")).toBe("job");
  });

  it("a variable referring to its own name sees the earlier definition", () => {
    const { values, errors } = resolveVariables([
      ["PATH_LIKE", plain("/usr/bin")],
      ["PATH_LIKE", plain("$PATH_LIKE:/opt/bin")],
    ]);
    expect(errors).toEqual([]);
    expect(values.get("PATH_LIKE")).toBe("/usr/bin:/opt/bin");
  });

  it("does not expand expand:false values, and keeps references to them for the runner by default", () => {
    const variables: Array<[string, PipelineVariable]> = [
      ["variable1", plain("value1")],
      ["raw_var", raw("raw-$variable1")],
      ["nonraw_var", plain("nonraw-$variable1")],
      ["variable2", plain("$raw_var and $nonraw_var")],
    ];
    const kept = resolveVariables(variables);
    expect(kept.values.get("raw_var")).toBe("raw-$variable1");
    expect(kept.values.get("variable2")).toBe("$raw_var and nonraw-value1");
    const inserted = resolveVariables(variables, { expandRawReferences: true });
    expect(inserted.values.get("variable2")).toBe("raw-$variable1 and nonraw-value1");
  });

  it("leaves references to file variables for the runner unless asked", () => {
    const variables: Array<[string, PipelineVariable]> = [
      ["CONFIG", { value: "content", expand: true, file: true }],
      ["USE", plain("--config=$CONFIG")],
    ];
    expect(resolveVariables(variables).values.get("USE")).toBe("--config=$CONFIG");
    expect(resolveVariables(variables, { expandFileReferences: true }).values.get("USE")).toBe(
      "--config=content",
    );
  });

  it("handles long chains and many variables quickly", () => {
    const chain: Array<[string, PipelineVariable]> = [["V0", plain("x")]];
    for (let i = 1; i < 2000; i++) chain.push([`V${i}`, plain(`$V${i - 1}`)]);
    const started = performance.now();
    const { values } = resolveVariables(chain.reverse());
    expect(values.get("V1999")).toBe("x");
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
