import { gzipSync } from "node:zlib";
import { PierError } from "../errors.ts";

/**
 * GitLab's default application limits for dotenv reports (self-managed instances). GitLab
 * measures the size on the gzip-compressed report, so the byte limit is checked the same way.
 */
export const dotenvDefaultLimits = { maxBytes: 5 * 1024, maxVariables: 20 } as const;

const keyPattern = /^[A-Za-z0-9_]+$/;

/**
 * Parses a `reports:dotenv` file with GitLab's rules: every line is `KEY=VALUE` split at the
 * first "=", key and value trimmed, quotes kept as they are, no comments, no empty lines, no
 * multiline values; keys are ASCII letters, digits and "_" up to 255 characters. A file that
 * breaks a rule is rejected whole, as GitLab rejects the report.
 */
export function parseDotenv(
  text: string,
  limits: { maxBytes?: number; maxVariables?: number } = {},
): Record<string, string> {
  const maxBytes = limits.maxBytes ?? dotenvDefaultLimits.maxBytes;
  const maxVariables = limits.maxVariables ?? dotenvDefaultLimits.maxVariables;
  if (gzipSync(text).length >= maxBytes) {
    throw new PierError(`Dotenv Artifact Too Big. Maximum Allowable Size: ${String(maxBytes)}`);
  }
  const variables: Record<string, string> = {};
  const body = text.replace(/^\uFEFF/, "");
  if (body === "") return variables;
  const lines = body.endsWith("\n") ? body.slice(0, -1).split("\n") : body.split("\n");
  for (const [index, line] of lines.entries()) {
    const equals = line.indexOf("=");
    if (equals === -1)
      throw new PierError(`dotenv report: Invalid Format (line ${String(index + 1)})`);
    const key = line.slice(0, equals).trim();
    const value = line.slice(equals + 1).trim();
    if (!keyPattern.test(key) || key.length > 255) {
      throw new PierError(
        `dotenv report: invalid variable name ${JSON.stringify(key)} (line ${String(index + 1)}); only letters, digits and '_' are allowed`,
      );
    }
    variables[key] = value;
  }
  if (Object.keys(variables).length > maxVariables) {
    throw new PierError(`Dotenv files cannot have more than ${String(maxVariables)} variables`);
  }
  return variables;
}
