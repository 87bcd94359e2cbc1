/** Keys GitLab accepts in a job (`Entry::Job` + `Entry::Processable`). */
export const jobKeys = new Set([
  "after_script",
  "allow_failure",
  "artifacts",
  "before_script",
  "cache",
  "coverage",
  "dast_configuration",
  "dependencies",
  "environment",
  "except",
  "extends",
  "hooks",
  "id_tokens",
  "identity",
  "image",
  "inherit",
  "interruptible",
  "manual_confirmation",
  "needs",
  "only",
  "pages",
  "parallel",
  "publish",
  "release",
  "resource_group",
  "retry",
  "rules",
  "run",
  "script",
  "secrets",
  "services",
  "stage",
  "start_in",
  "tags",
  "timeout",
  "trigger",
  "variables",
  "when",
]);

/** Keys a trigger (bridge) job accepts. */
export const bridgeKeys = new Set([
  "allow_failure",
  "environment",
  "except",
  "extends",
  "inherit",
  "needs",
  "only",
  "parallel",
  "resource_group",
  "rules",
  "stage",
  "trigger",
  "variables",
  "when",
]);

/** Keys `default:` accepts. */
export const defaultKeys = new Set([
  "after_script",
  "artifacts",
  "before_script",
  "cache",
  "hooks",
  "id_tokens",
  "identity",
  "image",
  "interruptible",
  "retry",
  "services",
  "tags",
  "timeout",
]);

/** Top-level keywords that are never job names. */
export const reservedTopLevelKeys = new Set([
  "default",
  "include",
  "before_script",
  "image",
  "services",
  "after_script",
  "variables",
  "stages",
  "cache",
  "workflow",
  "spec",
  "types",
]);

/** Deprecated top-level keys that act like `default:` ones. */
export const topLevelDefaultKeys = [
  "image",
  "services",
  "cache",
  "before_script",
  "after_script",
] as const;

export const ruleKeys = new Set([
  "if",
  "changes",
  "exists",
  "when",
  "start_in",
  "allow_failure",
  "variables",
  "needs",
  "interruptible",
]);

export const retryWhenValues = new Set([
  "always",
  "unknown_failure",
  "script_failure",
  "api_failure",
  "stuck_or_timeout_failure",
  "runner_system_failure",
  "runner_unsupported",
  "stale_schedule",
  "job_execution_timeout",
  "archived_failure",
  "unmet_prerequisites",
  "scheduler_failure",
  "data_integrity_failure",
]);

export const defaultStages = ["build", "test", "deploy"];
