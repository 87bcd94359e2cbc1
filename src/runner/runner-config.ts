import { readFileSync } from "node:fs";
import { parse } from "smol-toml";
import { UsageError } from "../errors.ts";

/** The part of a gitlab-runner `config.toml` that local runs use. */
export interface RunnerSettings {
  /** Global `concurrent`. */
  concurrent?: number;
  /** The first runner's `executor`. */
  executor?: string;
  /** The first runner's `[runners.docker]`, as written. */
  docker?: Record<string, unknown>;
}

/** Reads runner settings from a gitlab-runner compatible `config.toml`. */
export function readRunnerSettings(file: string): RunnerSettings {
  let document: Record<string, unknown>;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
    throw new UsageError(`${file}: ${message}`);
  }
  const runners = Array.isArray(document["runners"])
    ? (document["runners"] as Record<string, unknown>[])
    : [];
  const first = runners[0] ?? {};
  const settings: RunnerSettings = {};
  if (typeof document["concurrent"] === "number") settings.concurrent = document["concurrent"];
  if (typeof first["executor"] === "string") settings.executor = first["executor"];
  if (typeof first["docker"] === "object" && first["docker"] !== null) {
    settings.docker = first["docker"] as Record<string, unknown>;
  }
  return settings;
}
