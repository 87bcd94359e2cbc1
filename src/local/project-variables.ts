import { existsSync, readFileSync } from "node:fs";
import { parse } from "yaml";
import { UsageError } from "../errors.ts";
import type { ProjectVariable } from "../job/from-plan.ts";

const FLAGS = ["masked", "protected", "file", "raw"] as const;

/**
 * Project CI/CD variables from a YAML file (`NAME: value` or `NAME: {value, masked, protected,
 * file, raw}`), what GitLab keeps in a project's settings. Protected variables reach only
 * protected refs, as in GitLab.
 */
export function readProjectVariables(
  file: string,
  options: { required: boolean; refProtected: boolean },
): ProjectVariable[] {
  if (!existsSync(file)) {
    if (options.required) throw new UsageError(`${file}: variables file not found`);
    return [];
  }
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (document == null) return [];
  if (typeof document !== "object" || Array.isArray(document)) {
    throw new UsageError(`${file}: expected a mapping of variable names to values`);
  }
  const variables: ProjectVariable[] = [];
  const errors: string[] = [];
  for (const [key, raw] of Object.entries(document as Record<string, unknown>)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) errors.push(`${key}: not a valid variable name`);
    const entry =
      typeof raw === "object" && raw !== null && !Array.isArray(raw)
        ? (raw as Record<string, unknown>)
        : { value: raw };
    const unknown = Object.keys(entry).filter(
      (name) => name !== "value" && !(FLAGS as readonly string[]).includes(name),
    );
    if (unknown.length > 0) errors.push(`${key}: unknown keys ${unknown.join(", ")}`);
    const value = entry["value"];
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      errors.push(`${key}: value must be a string`);
      continue;
    }
    const flag = (name: (typeof FLAGS)[number]): boolean => entry[name] === true;
    if (flag("masked") && String(value).includes("\n"))
      errors.push(`${key}: a masked value must be a single line`);
    if (flag("protected") && !options.refProtected) continue;
    variables.push({
      key,
      value: String(value),
      masked: flag("masked"),
      protected: flag("protected"),
      file: flag("file"),
      raw: flag("raw"),
    });
  }
  if (errors.length > 0)
    throw new UsageError(errors.map((error) => `${file}: ${error}`).join("\n"));
  return variables;
}
