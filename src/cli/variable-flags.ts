import { UsageError } from "../errors.ts";

/** `--variable KEY=VALUE` flags as a record; a bad one is a usage error. */
export function parseVariableFlags(flags: readonly string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const flag of flags) {
    const equals = flag.indexOf("=");
    const key = equals === -1 ? flag : flag.slice(0, equals);
    if (equals === -1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`--variable expects KEY=VALUE, got "${flag}"`);
    }
    variables[key] = flag.slice(equals + 1);
  }
  return variables;
}
