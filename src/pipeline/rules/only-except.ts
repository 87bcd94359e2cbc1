import { expressionHolds } from "../expression/index.ts";
import { regexFromString } from "../expression/regex.ts";
import { globMatcher } from "./glob.ts";
import type { RulesInput } from "./rule.ts";

export interface OnlyExcept {
  refs?: string[];
  variables?: string[];
  changes?: string[];
  kubernetes?: string;
}

/**
 * Legacy `only`/`except`: allowed when every `only` policy holds and no `except` policy
 * holds. The implicit `only: [branches, tags]` (jobs without rules/only/except in a file
 * without workflow:rules) is the caller's to pass in.
 */
export function onlyExceptAllows(
  only: OnlyExcept | undefined,
  except: OnlyExcept | undefined,
  input: RulesInput,
): boolean {
  if (only && !policies(only, input).every(Boolean)) return false;
  if (except && policies(except, input).some(Boolean)) return false;
  return true;
}

function policies(spec: OnlyExcept, input: RulesInput): boolean[] {
  const results: boolean[] = [];
  if (spec.refs !== undefined) results.push(spec.refs.some((ref) => refMatches(ref, input)));
  if (spec.variables !== undefined) {
    results.push(spec.variables.some((expression) => expressionHolds(expression, input.lookup)));
  }
  if (spec.changes !== undefined) results.push(changesPolicy(spec.changes, input));
  // No Kubernetes integration locally: `kubernetes: active` never holds.
  if (spec.kubernetes !== undefined) results.push(false);
  return results;
}

// Pipeline sources as `only:refs` keywords (GitLab matches the source and its plural).
const SOURCE_KEYWORDS: Record<string, string> = {
  merge_request_event: "merge_requests",
  external_pull_request_event: "external_pull_requests",
  parent_pipeline: "pipelines",
};

function refMatches(entry: string, input: RulesInput): boolean {
  const { context } = input;
  const at = entry.indexOf("@");
  const pattern = at === -1 ? entry : entry.slice(0, at);
  if (at !== -1 && entry.slice(at + 1) !== context.project.path) return false;

  const isMergeRequest = context.source === "merge_request_event";
  const isTag = context.refType === "tag";
  const isBranch = !isTag && !isMergeRequest;
  if (isTag && pattern === "tags") return true;
  if (isBranch && pattern === "branches") return true;
  const source = context.source;
  if (source === pattern || `${source}s` === pattern || `${source}es` === pattern) return true;
  if (SOURCE_KEYWORDS[source] === pattern) return true;
  if (!isBranch && !isTag) return false;
  const regex = regexFromString(pattern);
  if (regex) return context.refName.trim() !== "" && regex.regex.test(context.refName);
  return pattern === context.refName;
}

function changesPolicy(globs: string[], input: RulesInput): boolean {
  const { context } = input;
  if (context.changesAlwaysMatch) return true;
  const paths = context.changedFiles();
  const matchers = globs.map(globMatcher);
  return paths.some((path) => matchers.some((matches) => matches(path)));
}
