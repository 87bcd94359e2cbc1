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

export type DockerPullPolicy = "always" | "if-not-present" | "never";

/** What pier does when a service never gets ready: gitlab-runner warns and goes on. */
export type ServicesReadiness = "warn" | "fail";

/** `[runners.docker]` as the Docker executor uses it (gitlab-runner's keys and meanings). */
export interface DockerSettings {
  /** Default job image when the job names none. */
  image?: string;
  privileged: boolean;
  /** Overrides `privileged` for services when set. */
  servicesPrivileged?: boolean;
  /** `"/path"` (a volume per job, shared with services) or `"/host:/ctr[:ro]"` (a bind). */
  volumes: string[];
  /** Tried in order; pier's default is `if-not-present` (gitlab-runner's is `always`). */
  pullPolicy: DockerPullPolicy[];
  /** Empty: any policy the job asks for. */
  allowedPullPolicies: DockerPullPolicy[];
  /** Glob lists (`**` allowed); empty allows everything. */
  allowedImages: string[];
  allowedServices: string[];
  allowedPrivilegedImages: string[];
  allowedPrivilegedServices: string[];
  /** An existing network (or `host`, `none`): no per-job network then. */
  networkMode?: string;
  /** Bytes. */
  memory?: number;
  /** CPUs × 1e9. */
  nanoCpus?: number;
  /** Bytes. */
  shmSize?: number;
  extraHosts: string[];
  dns: string[];
  dnsSearch: string[];
  capAdd: string[];
  capDrop: string[];
  /** Seconds; 0 or less skips the readiness wait (gitlab-runner: -1). */
  waitForServicesTimeout: number;
  /** pier's own key: `services_readiness = "fail"` fails a job whose service never gets ready. */
  servicesReadiness: ServicesReadiness;
}

const PULL_POLICIES: readonly DockerPullPolicy[] = ["always", "if-not-present", "never"];

/** Docker's size syntax: `512m`, `1g`, `1.5gb`, or bytes. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$/i.exec(text);
  if (match === null) return undefined;
  const unit = (match[2] ?? "").toLowerCase();
  const power = unit === "" ? 0 : "kmgt".indexOf(unit) + 1;
  return Math.round(Number(match[1]) * 1024 ** power);
}

/** Reads `[runners.docker]` (as written in config.toml) into typed settings; bad values are usage errors. */
export function dockerSettingsFrom(
  raw: Record<string, unknown> | undefined,
  source = "config.toml",
): DockerSettings {
  const table = raw ?? {};
  const fail = (key: string, expected: string): never => {
    throw new UsageError(`${source}: [runners.docker] ${key} must be ${expected}`);
  };
  const text = (key: string): string | undefined => {
    const value = table[key];
    if (value === undefined || value === "") return undefined;
    return typeof value === "string" ? value : fail(key, "a string");
  };
  const flag = (key: string): boolean | undefined => {
    const value = table[key];
    if (value === undefined) return undefined;
    return typeof value === "boolean" ? value : fail(key, "true or false");
  };
  const list = (key: string): string[] => {
    const value = table[key];
    if (value === undefined) return [];
    if (typeof value === "string") return [value];
    if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value;
    return fail(key, "a list of strings");
  };
  const policies = (key: string): DockerPullPolicy[] =>
    list(key).map((item) =>
      PULL_POLICIES.includes(item as DockerPullPolicy)
        ? (item as DockerPullPolicy)
        : fail(key, `one of ${PULL_POLICIES.join(", ")} (got "${item}")`),
    );
  const size = (key: string): number | undefined => {
    const value = table[key];
    if (value === undefined) return undefined;
    const bytes =
      typeof value === "number" ? value : typeof value === "string" ? parseByteSize(value) : NaN;
    return bytes !== undefined && Number.isFinite(bytes) && bytes >= 0
      ? bytes
      : fail(key, 'a size in bytes or like "512m"');
  };
  const cpus = (): number | undefined => {
    const value = table["cpus"];
    if (value === undefined) return undefined;
    const count = typeof value === "number" ? value : Number(value);
    return Number.isFinite(count) && count > 0
      ? Math.round(count * 1e9)
      : fail("cpus", 'a number of CPUs such as "1.5"');
  };
  const waitTimeout = table["wait_for_services_timeout"];
  if (waitTimeout !== undefined && !Number.isInteger(waitTimeout)) {
    fail("wait_for_services_timeout", "a whole number of seconds");
  }
  const readiness = text("services_readiness") ?? "warn";
  if (readiness !== "warn" && readiness !== "fail") fail("services_readiness", '"warn" or "fail"');

  const settings: DockerSettings = {
    privileged: flag("privileged") ?? false,
    volumes: list("volumes"),
    pullPolicy: policies("pull_policy"),
    allowedPullPolicies: policies("allowed_pull_policies"),
    allowedImages: list("allowed_images"),
    allowedServices: list("allowed_services"),
    allowedPrivilegedImages: list("allowed_privileged_images"),
    allowedPrivilegedServices: list("allowed_privileged_services"),
    extraHosts: list("extra_hosts"),
    dns: list("dns"),
    dnsSearch: list("dns_search"),
    capAdd: list("cap_add"),
    capDrop: list("cap_drop"),
    waitForServicesTimeout: (waitTimeout as number | undefined) ?? 30,
    servicesReadiness: readiness as ServicesReadiness,
  };
  if (settings.pullPolicy.length === 0) settings.pullPolicy = ["if-not-present"];
  const image = text("image");
  if (image !== undefined) settings.image = image;
  const servicesPrivileged = flag("services_privileged");
  if (servicesPrivileged !== undefined) settings.servicesPrivileged = servicesPrivileged;
  const networkMode = text("network_mode");
  if (networkMode !== undefined) settings.networkMode = networkMode;
  const memory = size("memory");
  if (memory !== undefined) settings.memory = memory;
  const shmSize = size("shm_size");
  if (shmSize !== undefined) settings.shmSize = shmSize;
  const nanoCpus = cpus();
  if (nanoCpus !== undefined) settings.nanoCpus = nanoCpus;
  return settings;
}
