import type { RulesInput } from "./rule.ts";

export interface OnlyExcept {
  refs?: string[];
  variables?: string[];
  changes?: string[];
  kubernetes?: string;
}

/**
 * Legacy `only`/`except`: allowed when every `only` policy holds and no `except` policy holds.
 * The implicit `only: [branches, tags]` is the caller's job.
 */
export function onlyExceptAllows(
  only: OnlyExcept | undefined,
  except: OnlyExcept | undefined,
  input: RulesInput,
): boolean {
  void only;
  void except;
  void input;
  throw new Error("not implemented");
}
