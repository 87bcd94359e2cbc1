import type { PipelineContext } from "../context/index.ts";
import type { VariableLookup } from "../expression/index.ts";
import { matchRules, type Rule, type RuleMatch } from "../rules/rule.ts";

/** One evaluation of a rules list: the variables it read, in order, their values, its result. */
interface Outcome {
  names: string[];
  values: Array<string | undefined>;
  match: RuleMatch | undefined;
}

/** Kept per rules list: jobs sharing a template's rules mostly see the same few values. */
const maxOutcomes = 8;

/**
 * matchRules for the jobs of one pipeline, evaluating each shared `rules:` list once per set of
 * values it reads. Matching depends only on the context (the same for every job) and on what
 * the lookup answers, and reads variables in an order fixed by the answers so far: a job whose
 * lookup gives the same answers to the questions an earlier evaluation asked, in turn, gets
 * the same result.
 */
export class RulesMemo {
  private readonly context: PipelineContext;
  private readonly outcomes = new WeakMap<readonly Rule[], Outcome[]>();

  constructor(context: PipelineContext) {
    this.context = context;
  }

  match(rules: readonly Rule[], lookup: VariableLookup): RuleMatch | undefined {
    const known = this.outcomes.get(rules);
    if (known) {
      for (let index = 0; index < known.length; index++) {
        const outcome = known[index] as Outcome;
        if (answersAgree(outcome, lookup)) return outcome.match;
      }
      if (known.length >= maxOutcomes) return matchRules(rules, { lookup, context: this.context });
    }
    const names: string[] = [];
    const values: Array<string | undefined> = [];
    const recording: VariableLookup = (name) => {
      const value = lookup(name);
      names.push(name);
      values.push(value);
      return value;
    };
    const match = matchRules(rules, { lookup: recording, context: this.context });
    const outcome: Outcome = { names, values, match };
    if (known) known.push(outcome);
    else this.outcomes.set(rules, [outcome]);
    return match;
  }
}

function answersAgree(outcome: Outcome, lookup: VariableLookup): boolean {
  const { names, values } = outcome;
  for (let index = 0; index < names.length; index++)
    if (lookup(names[index] as string) !== values[index]) return false;
  return true;
}
