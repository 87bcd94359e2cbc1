import type { VariableLookup } from "../pipeline/expression/index.ts";
import type { JobVariable } from "./spec.ts";

/**
 * Expansion as the runner does it at job run time (Go's `os.Expand` with gitlab-runner's
 * lookup): `$VAR` and `${VAR}` (no `%VAR%`), `$$` becomes `$`, shell specials (`$1`, `$*`,
 * `$#`, `$@`, `$!`, `$?`) and unknown variables become empty, one pass (inserted values are not
 * expanded again). Raw variables are the caller's concern: do not pass their values here.
 */
export function expandAtRuntime(value: string, lookup: VariableLookup): string {
  let dollar = value.indexOf("$");
  if (dollar === -1) return value;
  let out = "";
  let copied = 0;
  while (dollar !== -1 && dollar + 1 < value.length) {
    const { name, width } = shellName(value, dollar + 1);
    out += value.slice(copied, dollar);
    if (name === "" && width === 0)
      out += "$"; // `$` not followed by a name stays
    else if (name !== "") out += runnerValue(name, lookup); // else: bad `${…` syntax is eaten
    copied = dollar + 1 + width;
    dollar = value.indexOf("$", copied);
  }
  return out + value.slice(copied);
}

function runnerValue(name: string, lookup: VariableLookup): string {
  if (name === "$") return "$";
  if (name.length === 1 && SHELL_SPECIAL.includes(name) && name !== "-") return "";
  return lookup(name) ?? "";
}

const SHELL_SPECIAL = "*#$@!?-0123456789";

function isNameChar(code: number): boolean {
  return (
    code === 95 ||
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122)
  );
}

// Go's os.getShellName: the name after a `$` and how many characters it spans.
function shellName(value: string, at: number): { name: string; width: number } {
  const first = value[at] ?? "";
  if (first === "{") {
    const second = value[at + 1] ?? "";
    if (value.length - at > 2 && SHELL_SPECIAL.includes(second) && value[at + 2] === "}") {
      return { name: second, width: 3 };
    }
    const close = value.indexOf("}", at + 1);
    if (close === -1) return { name: "", width: 1 }; // eats "${"
    if (close === at + 1) return { name: "", width: 2 }; // eats "${}"
    return { name: value.slice(at + 1, close), width: close - at + 1 };
  }
  if (SHELL_SPECIAL.includes(first) && first !== "") return { name: first, width: 1 };
  let end = at;
  while (end < value.length && isNameChar(value.charCodeAt(end))) end++;
  return { name: value.slice(at, end), width: end - at };
}

/**
 * The runner's `JobVariables.Expand()`: every non-raw value expanded once against the list as
 * received (the last definition of a name wins). A reference to a file variable becomes the
 * path of its file when `filePath` is given (as the runner does), else its content.
 */
export function expandJobVariablesAtRuntime(
  variables: readonly JobVariable[],
  options: { filePath?: (key: string) => string } = {},
): JobVariable[] {
  const byName = new Map<string, JobVariable>();
  for (const variable of variables) byName.set(variable.key, variable);
  const { filePath } = options;
  const lookup = (name: string): string | undefined => {
    const variable = byName.get(name);
    if (!variable) return undefined;
    return variable.file && filePath ? filePath(name) : variable.value;
  };
  return variables.map((variable) =>
    variable.raw ? variable : { ...variable, value: expandAtRuntime(variable.value, lookup) },
  );
}
