import type { VariableLookup } from "../pipeline/expression/index.ts";

/**
 * Expansion as the runner does it at job run time (Go `os.Expand`): `$VAR` and `${VAR}`,
 * `$$` becomes `$`, unknown variables become empty. Raw variables are the caller's concern:
 * their values are not passed through this function.
 */
export function expandAtRuntime(value: string, lookup: VariableLookup): string {
  void value;
  void lookup;
  throw new Error("not implemented");
}
