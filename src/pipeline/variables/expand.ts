import type { VariableLookup } from "../expression/index.ts";

/** A variable as GitLab holds it at pipeline creation. */
export interface PipelineVariable {
  value: string;
  /** false: `expand: false` / raw; the value is used literally. */
  expand: boolean;
}

/**
 * One pass of GitLab-side expansion (`ExpandVariables.expand_existing`): `$VAR`, `${VAR}` and
 * `%VAR%` are replaced when known, unknown references and `$$`/`%%` are kept as written.
 */
export function expandValue(value: string, lookup: VariableLookup): string {
  void value;
  void lookup;
  throw new Error("not implemented");
}

/**
 * Expands a set of variables that refer to each other (GitLab's `sort_and_expand_all`).
 * Later entries override earlier ones with the same name.
 */
export function resolveVariables(ordered: Array<[string, PipelineVariable]>): {
  values: Map<string, string>;
  errors: string[];
} {
  void ordered;
  throw new Error("not implemented");
}
