import { hostname } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { UsageError } from "../../errors.ts";
import { readRunnerConfig, writeRunnerConfig, type RunnerEntry } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { executorFactory } from "../../runner/executor-registry.ts";
import { GitLabClient } from "../../runner/gitlab-client.ts";
import type { GitLabTlsFiles } from "../../runner/gitlab-tls.ts";
import { registerRunner, verifyRunner, type RunnerCredentials } from "../../runner/runner-api.ts";
import { runnerInfo } from "../../runner/runner-info.ts";
import { loadSystemId } from "../../runner/system-id.ts";

export interface RegisterOptions {
  url?: string | undefined;
  token?: string | undefined;
  registrationToken?: string | undefined;
  executor?: string | undefined;
  name?: string | undefined;
  description?: string | undefined;
  tagList?: string | undefined;
  runUntagged?: boolean | undefined;
  locked?: boolean | undefined;
  maximumTimeout?: string | undefined;
  paused?: boolean | undefined;
  maintenanceNote?: string | undefined;
  accessLevel?: string | undefined;
  limit?: string | undefined;
  tlsCaFile?: string | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  config?: string | undefined;
  nonInteractive?: boolean | undefined;
}

/** Go's zero time (0001-01-01T00:00:00Z): what gitlab-runner writes for a token that never expires. */
function goZeroTime(): Date {
  const date = new Date(0);
  date.setUTCFullYear(1, 0, 1);
  return date;
}

/** Options only GitLab decides for runners created in GitLab (glrt- tokens). */
const SERVER_OWNED = [
  "tagList",
  "runUntagged",
  "locked",
  "maximumTimeout",
  "paused",
  "maintenanceNote",
  "accessLevel",
] as const;

async function ask(question: string, fallback?: string): Promise<string> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const hint = fallback === undefined || fallback === "" ? "" : ` [${fallback}]`;
    const answer = (await prompt.question(`${question}${hint}:\n`)).trim();
    return answer === "" ? (fallback ?? "") : answer;
  } finally {
    prompt.close();
  }
}

function wholeNumber(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number`);
  return Number(value);
}

/** `--tls-*-file` as absolute paths: `pier runner run` may start in another directory. */
function tlsFilesFrom(options: RegisterOptions): GitLabTlsFiles {
  const absolute = (file: string | undefined): string | undefined =>
    file === undefined || file === "" ? undefined : resolve(file);
  const files: GitLabTlsFiles = {};
  const caFile = absolute(options.tlsCaFile);
  const certFile = absolute(options.tlsCertFile);
  const keyFile = absolute(options.tlsKeyFile);
  if (caFile !== undefined) files.caFile = caFile;
  if (certFile !== undefined) files.certFile = certFile;
  if (keyFile !== undefined) files.keyFile = keyFile;
  return files;
}

/**
 * `pier runner register`: with a `glrt-` token (a runner created in GitLab) it verifies the
 * token; with a registration token it registers a new runner (legacy flow). Either way a
 * `[[runners]]` entry is added to config.toml.
 */
export async function runnerRegisterCommand(options: RegisterOptions): Promise<number> {
  const configFile = options.config ?? defaultRunnerConfigFile();
  const interactive = options.nonInteractive !== true && process.stdin.isTTY === true;
  let url = options.url;
  let token = options.token ?? options.registrationToken;
  let executor = options.executor;
  if (interactive) {
    url ??= await ask("Enter the GitLab instance URL (for example, https://gitlab.com/)");
    token ??= await ask("Enter the registration token");
    executor ??= await ask("Enter an executor: shell, docker", "shell");
  }
  if (url === undefined || url === "") throw new UsageError("--url is required");
  if (token === undefined || token === "") throw new UsageError("--token is required");
  executor ??= "shell";
  const factory = executorFactory(executor, "--executor");
  const name = options.name ?? options.description ?? hostname();
  const limit = wholeNumber(options.limit, "--limit");

  const tls = tlsFilesFrom(options);
  // Reads the files now: one that is missing fails before GitLab is asked anything.
  const client = new GitLabClient({ url, tls });
  const info = runnerInfo(executor, factory.features);
  if (token.startsWith("glrt-") && SERVER_OWNED.some((key) => options[key] !== undefined)) {
    throw new UsageError(
      "tags, run-untagged, locked, access level, maximum timeout, paused and maintenance note are set in GitLab for runners created there; they cannot be given with a glrt- token",
    );
  }
  const loaded = readRunnerConfig(configFile);
  const systemId = loadSystemId(configFile);
  let credentials: RunnerCredentials;
  if (token.startsWith("glrt-")) {
    credentials = await verifyRunner(client, { token, systemId, info });
  } else {
    const accessLevel = options.accessLevel;
    if (
      accessLevel !== undefined &&
      accessLevel !== "not_protected" &&
      accessLevel !== "ref_protected"
    ) {
      throw new UsageError("--access-level must be not_protected or ref_protected");
    }
    const maximumTimeout = wholeNumber(options.maximumTimeout, "--maximum-timeout");
    credentials = await registerRunner(client, {
      registrationToken: token,
      description: options.description ?? name,
      tagList: (options.tagList ?? "")
        .split(",")
        .map((tag) => tag.trim())
        .filter((tag) => tag !== ""),
      runUntagged: options.runUntagged ?? (options.tagList === undefined || options.tagList === ""),
      locked: options.locked ?? true,
      info,
      ...(maximumTimeout !== undefined && { maximumTimeout }),
      ...(options.paused !== undefined && { paused: options.paused }),
      ...(options.maintenanceNote !== undefined && { maintenanceNote: options.maintenanceNote }),
      ...(accessLevel !== undefined && { accessLevel }),
    });
  }

  const entry: RunnerEntry = {
    name,
    url,
    id: credentials.id,
    token: credentials.token,
    tokenObtainedAt: new Date(Math.floor(Date.now() / 1000) * 1000),
    tokenExpiresAt:
      credentials.tokenExpiresAt === undefined
        ? goZeroTime()
        : new Date(credentials.tokenExpiresAt),
    executor,
    ...(limit !== undefined && { limit }),
    ...(tls.caFile !== undefined && { tlsCaFile: tls.caFile }),
    ...(tls.certFile !== undefined && { tlsCertFile: tls.certFile }),
    ...(tls.keyFile !== undefined && { tlsKeyFile: tls.keyFile }),
    extra: {},
  };
  const { config } = loaded;
  config.global.concurrent ??= 1;
  config.global.checkInterval ??= 0;
  config.global.shutdownTimeout ??= 0;
  config.runners.push(entry);
  writeRunnerConfig(configFile, config);
  process.stdout.write(
    `Runner registered successfully. Start it with "pier runner run${options.config === undefined ? "" : ` --config ${configFile}`}".\nConfiguration (with the authentication token) was saved in "${configFile}"\n`,
  );
  return 0;
}
