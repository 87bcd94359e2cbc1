import type { Rule } from "../rules/rule.ts";
import type { OnlyExcept } from "../rules/only-except.ts";
import type { JobExecution, PlannedNeed, SourcePosition } from "../plan.ts";

export interface YamlVariable {
  key: string;
  value: string;
  expand: boolean;
  description?: string;
  options?: string[];
}

export interface NeedSpec extends PlannedNeed {
  /** `needs:parallel:matrix`: the instances of a matrix job to wait for. */
  matrix?: Array<Record<string, string[]>>;
  position: SourcePosition | undefined;
}

export interface RuleSpec extends Rule {
  position?: SourcePosition;
  /** `needs` of the rule, normalised (replace the job's needs when the rule matches). */
  needSpecs?: NeedSpec[];
}

/** One visible job after `extends`, `!reference`, `default:` and validation; before rules and parallel. */
export interface JobModel extends JobExecution {
  name: string;
  stagePosition: SourcePosition | undefined;
  /** As written; undefined when the job does not say. */
  allowFailure?: boolean | { exitCodes: number[] };
  rules?: RuleSpec[];
  only?: OnlyExcept;
  except?: OnlyExcept;
  needs?: NeedSpec[];
  dependencies?: string[];
  dependenciesPosition?: SourcePosition;
  variables: YamlVariable[];
  /** `inherit:variables`: which global variables the job sees. */
  inheritVariables: boolean | string[];
  parallel?: { total: number } | { matrix: Array<Record<string, string[]>> };
}

export interface WorkflowModel {
  name?: string;
  rules?: RuleSpec[];
  autoCancel?: Record<string, unknown>;
}

export interface PipelineModel {
  /** User stages with `.pre` first and `.post` last. */
  stages: string[];
  variables: YamlVariable[];
  workflow?: WorkflowModel;
  jobs: JobModel[];
}
