import { describe, expect, it } from "vitest";
import { RulesMemo } from "../../../../src/pipeline/planning/rules-memo.ts";
import type { Rule } from "../../../../src/pipeline/rules/rule.ts";
import { matchRules } from "../../../../src/pipeline/rules/rule.ts";
import { contextFixture } from "../rules/context-fixture.ts";

const rules: Rule[] = [
  { if: '$SOURCE == "schedule"', when: "never" },
  { if: "$BRANCH == $DEFAULT", when: "manual" },
  { if: "$BRANCH =~ /^feature\\//", when: "always" },
  { when: "on_success" },
];

function lookupOf(values: Record<string, string>): (name: string) => string | undefined {
  return (name) => values[name];
}

describe("RulesMemo", () => {
  const context = contextFixture();
  const cases: Array<Record<string, string>> = [
    { SOURCE: "schedule", BRANCH: "main", DEFAULT: "main" },
    { SOURCE: "push", BRANCH: "main", DEFAULT: "main" },
    { SOURCE: "push", BRANCH: "feature/x", DEFAULT: "main" },
    { SOURCE: "push", BRANCH: "fix", DEFAULT: "main" },
    { SOURCE: "push", BRANCH: "fix", DEFAULT: "fix" },
    { SOURCE: "push", DEFAULT: "main" },
  ];

  it("gives what matchRules gives, for repeated and changing values", () => {
    const memo = new RulesMemo(context);
    for (const values of [...cases, ...cases.slice().reverse(), ...cases]) {
      const expected = matchRules(rules, { lookup: lookupOf(values), context });
      expect(memo.match(rules, lookupOf(values))).toEqual(expected);
    }
  });

  it("evaluates a list once for the same answers, asking only the variables it read", () => {
    const memo = new RulesMemo(context);
    const asked: string[] = [];
    const counting = (values: Record<string, string>) => (name: string) => {
      asked.push(name);
      return values[name];
    };
    const first = memo.match(rules, counting({ SOURCE: "push", BRANCH: "main", DEFAULT: "main" }));
    expect(first?.rule.when).toBe("manual");
    asked.length = 0;
    // UNUSED differs but is never read: the recorded outcome applies.
    const again = memo.match(
      rules,
      counting({ SOURCE: "push", BRANCH: "main", DEFAULT: "main", UNUSED: "x" }),
    );
    expect(again).toBe(first);
    expect(asked).toEqual(["SOURCE", "BRANCH", "DEFAULT"]);
  });

  it("keeps lists apart and stays right past its limit of outcomes", () => {
    const memo = new RulesMemo(context);
    const other: Rule[] = [{ if: "$BRANCH", when: "delayed" }];
    for (let index = 0; index < 20; index++) {
      const values = {
        SOURCE: "push",
        BRANCH: `b${index}`,
        DEFAULT: index % 2 ? `b${index}` : "x",
      };
      expect(memo.match(rules, lookupOf(values))?.rule.when).toBe(
        index % 2 ? "manual" : "on_success",
      );
      expect(memo.match(other, lookupOf(values))?.rule.when).toBe("delayed");
    }
    expect(memo.match(other, lookupOf({}))).toBeUndefined();
  });
});
