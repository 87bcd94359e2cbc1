import type { VariableLookup } from "../expression/index.ts";
import type { PipelineContext } from "../context/pipeline-context.ts";

export type RuleWhen = "on_success" | "on_failure" | "always" | "manual" | "delayed" | "never";

export interface Rule {
  if?: string;
  changes?: { paths: string[]; compareTo?: string };
  exists?: string[];
  when?: RuleWhen;
  startIn?: string;
  allowFailure?: boolean | { exitCodes: number[] };
  variables?: Record<string, string>;
  needs?: unknown[];
  interruptible?: boolean;
  /** Source position of the rule for error messages, opaque here. */
  position?: unknown;
}

export interface RuleMatch {
  rule: Rule;
  index: number;
}

export interface RulesInput {
  lookup: VariableLookup;
  context: PipelineContext;
}

/** First matching rule, or undefined when none matches (the job is then not created). */
export function matchRules(rules: Rule[], input: RulesInput): RuleMatch | undefined {
  void rules;
  void input;
  throw new Error("not implemented");
}
