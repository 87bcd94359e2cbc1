import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { parse, stringify } from "smol-toml";
import { UsageError } from "../errors.ts";

/** gitlab-runner's global section, as written (absent keys stay absent when rewritten). */
export interface GlobalSettings {
  concurrent?: number;
  /** Seconds; 0 means gitlab-runner's default of 3. */
  checkInterval?: number;
  logLevel?: string;
  logFormat?: string;
  listenAddress?: string;
  /** Seconds a forceful shutdown waits for aborted jobs. */
  shutdownTimeout?: number;
}

/** One `[[runners]]` entry. Keys pier does not interpret are kept in `extra`, untouched. */
export interface RunnerEntry {
  name: string;
  url: string;
  token: string;
  id?: number;
  tokenObtainedAt?: Date;
  tokenExpiresAt?: Date;
  executor: string;
  limit?: number;
  requestConcurrency?: number;
  /** KiB. */
  outputLimit?: number;
  /** `KEY=value` strings appended to every job's variables. */
  environment?: string[];
  buildsDir?: string;
  cacheDir?: string;
  cloneUrl?: string;
  preGetSourcesScript?: string;
  preBuildScript?: string;
  postBuildScript?: string;
  tlsCaFile?: string;
  /** Client certificate (and its key) presented to GitLab. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  featureFlags?: Record<string, boolean>;
  /** `[runners.docker]` as written; the Docker executor reads it. */
  docker?: Record<string, unknown>;
  /** `[runners.cache]` as written. */
  cache?: Record<string, unknown>;
  extra: Record<string, unknown>;
}

export interface RunnerConfig {
  global: GlobalSettings;
  runners: RunnerEntry[];
  /** Global keys pier does not interpret (`[session_server]`, `sentry_dsn`, …), kept as written. */
  extra: Record<string, unknown>;
}

export interface LoadedRunnerConfig {
  config: RunnerConfig;
  /** One line per key pier does not support; the caller reports them once. */
  warnings: string[];
}

type Table = Record<string, unknown>;

const GLOBAL_KEYS = {
  concurrent: "concurrent",
  check_interval: "checkInterval",
  log_level: "logLevel",
  log_format: "logFormat",
  listen_address: "listenAddress",
  shutdown_timeout: "shutdownTimeout",
} as const;

const RUNNER_KEYS = {
  name: "name",
  url: "url",
  token: "token",
  id: "id",
  token_obtained_at: "tokenObtainedAt",
  token_expires_at: "tokenExpiresAt",
  executor: "executor",
  limit: "limit",
  request_concurrency: "requestConcurrency",
  output_limit: "outputLimit",
  environment: "environment",
  builds_dir: "buildsDir",
  cache_dir: "cacheDir",
  clone_url: "cloneUrl",
  pre_get_sources_script: "preGetSourcesScript",
  pre_build_script: "preBuildScript",
  post_build_script: "postBuildScript",
  "tls-ca-file": "tlsCaFile",
  "tls-cert-file": "tlsCertFile",
  "tls-key-file": "tlsKeyFile",
  feature_flags: "featureFlags",
  docker: "docker",
  cache: "cache",
} as const;

type Kind = "int" | "string" | "date" | "strings" | "flags" | "table";

const KINDS: Record<string, Kind> = {
  concurrent: "int",
  check_interval: "int",
  shutdown_timeout: "int",
  id: "int",
  limit: "int",
  request_concurrency: "int",
  output_limit: "int",
  token_obtained_at: "date",
  token_expires_at: "date",
  environment: "strings",
  feature_flags: "flags",
  docker: "table",
  cache: "table",
};

function isTable(value: unknown): value is Table {
  return (
    typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date)
  );
}

/** True when a table holds no setting at all (gitlab-runner writes empty `[runners.cache.s3]`). */
function isEmptyTable(value: unknown): boolean {
  return isTable(value) && Object.values(value).every(isEmptyTable);
}

function checked(value: unknown, kind: Kind, where: string): unknown {
  const fail = (expected: string): never => {
    throw new UsageError(`${where} must be ${expected}`);
  };
  switch (kind) {
    case "int":
      return Number.isInteger(value) ? value : fail("a whole number");
    case "string":
      return typeof value === "string" ? value : fail("a string");
    case "date":
      return value instanceof Date ? new Date(value.getTime()) : fail("a date-time");
    case "strings":
      return Array.isArray(value) && value.every((item) => typeof item === "string")
        ? [...value]
        : fail("a list of strings");
    case "flags":
      if (!isTable(value) || !Object.values(value).every((flag) => typeof flag === "boolean")) {
        fail("a table of true/false feature flags");
      }
      return { ...(value as Table) };
    case "table":
      return isTable(value) ? value : fail("a table");
  }
}

/** Parses config.toml text; `source` names the file in messages. */
export function parseRunnerConfig(text: string, source = "config.toml"): LoadedRunnerConfig {
  let document: Table;
  try {
    document = parse(text);
  } catch (error) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
    throw new UsageError(`${source}: ${message}`);
  }
  const warnings: string[] = [];
  const global: Record<string, unknown> = {};
  const extra: Table = {};
  for (const [key, value] of Object.entries(document)) {
    if (key === "runners") continue;
    const field = (GLOBAL_KEYS as Record<string, string>)[key];
    if (field === undefined) {
      extra[key] = value;
      if (!isEmptyTable(value))
        warnings.push(`${source}: "${key}" is not supported by pier; kept as written`);
      continue;
    }
    global[field] = checked(value, KINDS[key] ?? "string", `${source}: ${key}`);
  }
  const rawRunners = document["runners"] ?? [];
  if (!Array.isArray(rawRunners) || !rawRunners.every(isTable)) {
    throw new UsageError(`${source}: runners must be [[runners]] tables`);
  }
  const runners = rawRunners.map((raw, index) => {
    const entry = parseRunnerEntry(raw, `${source}: [[runners]] #${index + 1}`, warnings);
    return entry;
  });
  return { config: { global: global, runners, extra }, warnings };
}

function parseRunnerEntry(raw: Table, where: string, warnings: string[]): RunnerEntry {
  const fields: Record<string, unknown> = {};
  const extra: Table = {};
  const label = typeof raw["name"] === "string" ? `${where} ("${raw["name"]}")` : where;
  for (const [key, value] of Object.entries(raw)) {
    const field = (RUNNER_KEYS as Record<string, string>)[key];
    if (field === undefined) {
      extra[key] = value;
      if (!isEmptyTable(value))
        warnings.push(`${label}: "${key}" is not supported by pier; kept as written`);
      continue;
    }
    fields[field] = checked(value, KINDS[key] ?? "string", `${label}: ${key}`);
  }
  const cache = fields["cache"] as Table | undefined;
  if (cache !== undefined) {
    for (const [key, value] of Object.entries(cache)) {
      if (!isEmptyTable(value) && !(key === "Type" && value === "")) {
        warnings.push(
          `${label}: [runners.cache] "${key}" is not supported by pier (local cache only); kept as written`,
        );
      }
    }
  }
  return {
    name: "",
    url: "",
    token: "",
    executor: "",
    ...(fields as Partial<RunnerEntry>),
    extra,
  };
}

/** Reads config.toml; a missing file is an empty configuration. */
export function readRunnerConfig(file: string): LoadedRunnerConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { config: { global: {}, runners: [], extra: {} }, warnings: [] };
    }
    throw new UsageError(`${file}: ${(error as Error).message}`);
  }
  return parseRunnerConfig(text, file);
}

function withoutUndefined(table: Table): Table {
  return Object.fromEntries(Object.entries(table).filter(([, value]) => value !== undefined));
}

/** config.toml text in gitlab-runner's layout: globals, then one `[[runners]]` table per entry. */
export function formatRunnerConfig(config: RunnerConfig): string {
  const document: Table = {};
  for (const [key, field] of Object.entries(GLOBAL_KEYS)) {
    document[key] = config.global[field];
  }
  Object.assign(document, config.extra);
  document["runners"] = config.runners.map((entry) => {
    const table: Table = {};
    for (const [key, field] of Object.entries(RUNNER_KEYS)) {
      table[key] = entry[field];
    }
    return withoutUndefined({ ...table, ...entry.extra });
  });
  return stringify(withoutUndefined(document));
}

/**
 * Writes config.toml so that a reader (or a crash) never sees half a file, readable by its
 * owner only: it holds runner tokens.
 */
export function writeRunnerConfig(file: string, config: RunnerConfig): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(file), `.${randomBytes(6).toString("hex")}.config.toml.tmp`);
  const fd = openSync(temporary, "wx", 0o600);
  try {
    writeSync(fd, formatRunnerConfig(config));
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, file);
}
