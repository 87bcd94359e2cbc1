import type { SourcePosition } from "../plan.ts";
import { isPlainObject, setKey } from "./plain-object.ts";
import { copyKeyPosition, copyPosition, keyPositionOf, positionOf } from "./source-map.ts";
import { compileRegex } from "../expression/regex.ts";

export interface InputProblem {
  message: string;
  position: SourcePosition | undefined;
}

const inputTypes = new Set(["string", "number", "boolean", "array"]);
const specInputKeys = new Set(["default", "description", "options", "regex", "type", "rules"]);

/**
 * Values of `spec:inputs` for one file from the `include:inputs` given to it: defaults,
 * mandatory inputs, types, options and regex checked as GitLab does.
 */
export function resolveInputs(
  header: Record<string, unknown> | undefined,
  given: Record<string, unknown> | undefined,
  includePosition: SourcePosition | undefined,
  problems: InputProblem[],
): Map<string, unknown> | undefined {
  const spec = header?.["spec"];
  if (header && !isPlainObject(spec)) {
    problems.push({ message: "header:spec config should be a hash", position: positionOf(header) });
    return undefined;
  }
  const declared = isPlainObject(spec) ? spec["inputs"] : undefined;
  if (declared !== undefined && declared !== null && !isPlainObject(declared)) {
    problems.push({
      message: "header:spec:inputs config should be a hash",
      position: positionOf(spec),
    });
    return undefined;
  }
  const declarations = isPlainObject(declared) ? declared : {};
  if (!header) {
    if (given && Object.keys(given).length > 0) {
      problems.push({
        message: `Given inputs not defined in the \`spec\` section of the included configuration file`,
        position: includePosition,
      });
    }
    return undefined;
  }
  const values = new Map<string, unknown>();
  for (const name of Object.keys(given ?? {})) {
    if (!Object.hasOwn(declarations, name)) {
      problems.push({ message: `unknown input arguments: ${name}`, position: includePosition });
    }
  }
  for (const [name, rawDeclaration] of Object.entries(declarations)) {
    const declaration = isPlainObject(rawDeclaration) ? rawDeclaration : {};
    const at = keyPositionOf(declarations, name);
    for (const key of Object.keys(declaration)) {
      if (!specInputKeys.has(key)) {
        problems.push({
          message: `header:spec:inputs:${name} config contains unknown keys: ${key}`,
          position: at,
        });
      }
    }
    const type = declaration["type"] ?? "string";
    if (typeof type !== "string" || !inputTypes.has(type)) {
      problems.push({
        message: `header:spec:inputs:${name} input type unknown value: ${JSON.stringify(type)}`,
        position: at,
      });
      continue;
    }
    const provided = given !== undefined && Object.hasOwn(given, name);
    if (!provided && !Object.hasOwn(declaration, "default")) {
      problems.push({
        message: `\`${name}\` input: required value has not been provided`,
        position: includePosition ?? at,
      });
      continue;
    }
    const value = provided ? given[name] : declaration["default"];
    const problem = checkInputValue(name, type, value, declaration);
    if (problem) {
      problems.push({ message: problem, position: provided ? includePosition : at });
      continue;
    }
    values.set(name, value);
  }
  return values;
}

function checkInputValue(
  name: string,
  type: string,
  value: unknown,
  declaration: Record<string, unknown>,
): string | undefined {
  const ok =
    (type === "string" && typeof value === "string") ||
    (type === "number" && typeof value === "number") ||
    (type === "boolean" && typeof value === "boolean") ||
    (type === "array" && Array.isArray(value));
  if (!ok) return `\`${name}\` input: provided value is not a ${type}`;
  const options = declaration["options"];
  if (Array.isArray(options) && !options.some((option) => option === value)) {
    return `\`${name}\` input: \`${String(value)}\` cannot be used because it is not in the list of allowed options`;
  }
  const regex = declaration["regex"];
  if (typeof regex === "string" && typeof value === "string") {
    const compiled = compileRegex(regex, "");
    if (!compiled) return `\`${name}\` input: invalid regular expression`;
    if (!compiled.test(value))
      return `\`${name}\` input: provided value does not match required RE2 regular expression`;
  }
  return undefined;
}

const interpolationPattern = /\$\[\[\s*([^\]]*?)\s*\]\]/g;

/**
 * `$[[ inputs.name | fn … ]]` interpolation over a whole parsed document (keys included).
 * A value that is exactly one interpolation keeps the input's type; embedded ones become text.
 */
export function interpolateInputs(
  value: unknown,
  inputs: Map<string, unknown>,
  expandVariables: (text: string) => string,
  problems: InputProblem[],
  position?: SourcePosition,
): unknown {
  return interpolateValue(value, { inputs, expandVariables, problems }, position);
}

/** What interpolating one document works with. */
interface Interpolation {
  inputs: Map<string, unknown>;
  expandVariables: (text: string) => string;
  problems: InputProblem[];
}

function interpolateValue(
  value: unknown,
  context: Interpolation,
  position: SourcePosition | undefined,
): unknown {
  if (typeof value === "string") {
    if (!value.includes("$[[")) return value;
    return interpolateString(value, context, position);
  }
  if (Array.isArray(value)) {
    const list = value.map((item) =>
      interpolateValue(item, context, positionOf(value) ?? position),
    );
    copyPosition(value, list);
    return list;
  }
  if (isPlainObject(value)) {
    const result: Record<string, unknown> = {};
    copyPosition(value, result);
    for (const [key, item] of Object.entries(value)) {
      const keyAt = keyPositionOf(value, key);
      const newKey = key.includes("$[[") ? String(interpolateString(key, context, keyAt)) : key;
      setKey(result, newKey, interpolateValue(item, context, keyAt));
      if (newKey === key) copyKeyPosition(value, result, key);
    }
    return result;
  }
  return value;
}

function interpolateString(
  text: string,
  context: Interpolation,
  position: SourcePosition | undefined,
): unknown {
  const whole = /^\$\[\[\s*([^\]]*?)\s*\]\]$/.exec(text);
  if (whole) return evaluateInterpolation(whole[1] ?? "", context, position);
  return text.replace(interpolationPattern, (_match, body: string) => {
    const result = evaluateInterpolation(body, context, position);
    return typeof result === "string" ? result : JSON.stringify(result);
  });
}

function evaluateInterpolation(
  body: string,
  { inputs, expandVariables, problems }: Interpolation,
  position: SourcePosition | undefined,
): unknown {
  const [access = "", ...functions] = body.split("|").map((part) => part.trim());
  const access_ = /^inputs\.([A-Za-z0-9_-]+)$/.exec(access);
  if (!access_ || !inputs.has(access_[1] ?? "")) {
    problems.push({
      message: `unknown interpolation key: \`${access.replace(/^inputs\./, "")}\``,
      position,
    });
    return "";
  }
  if (functions.length > 3) {
    problems.push({ message: "too many functions in interpolation block", position });
  }
  let value = inputs.get(access_[1] ?? "");
  for (const call of functions) {
    const text = typeof value === "string" ? value : JSON.stringify(value);
    const truncate = /^truncate\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(call);
    if (call === "expand_vars") value = expandVariables(text);
    else if (call === "posix_escape") value = text.replace(/([^A-Za-z0-9_\-.,:/@\n])/g, "\\$1");
    else if (truncate)
      value = text.slice(Number(truncate[1]), Number(truncate[1]) + Number(truncate[2]));
    else
      problems.push({
        message: `no function matching \`${call}\`: check that the function name, arguments, and types are correct`,
        position,
      });
  }
  return value;
}
