import type { Rule } from "../rules/rule.ts";
import type { OnlyExcept } from "../rules/only-except.ts";
import type {
  PlannedArtifacts,
  PlannedCache,
  PlannedEnvironment,
  PlannedImage,
  PlannedRetry,
  PlannedService,
  SourcePosition,
} from "../plan.ts";

export interface YamlVariable {
  key: string;
  value: string;
  expand: boolean;
  description?: string;
  options?: string[];
}

export interface NeedSpec {
  job: string;
  artifacts: boolean;
  optional: boolean;
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
export interface JobModel {
  name: string;
  position: SourcePosition;
  stage: string;
  stagePosition: SourcePosition | undefined;
  when: "on_success" | "on_failure" | "always" | "manual" | "delayed";
  startInSeconds?: number;
  /** As written; undefined when the job does not say. */
  allowFailure?: boolean | { exitCodes: number[] };
  rules?: RuleSpec[];
  only?: OnlyExcept;
  except?: OnlyExcept;
  needs?: NeedSpec[];
  dependencies?: string[];
  dependenciesPosition?: SourcePosition;
  retry: PlannedRetry;
  timeoutSeconds?: number;
  resourceGroup?: string;
  interruptible: boolean;
  image?: PlannedImage;
  services: PlannedService[];
  beforeScript: string[];
  script: string[];
  afterScript: string[];
  variables: YamlVariable[];
  /** `inherit:variables`: which global variables the job sees. */
  inheritVariables: boolean | string[];
  artifacts?: PlannedArtifacts;
  cache: PlannedCache[];
  environment?: PlannedEnvironment;
  tags: string[];
  coverage?: string;
  parallel?: { total: number } | { matrix: Array<Record<string, string[]>> };
  trigger?: unknown;
  hooks?: Record<string, string[]>;
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
