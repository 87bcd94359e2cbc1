import { PierError, UsageError } from "../../errors.ts";
import { readRunnerConfig, writeRunnerConfig } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { EXECUTORS } from "../../runner/executor-registry.ts";
import { GitLabClient } from "../../runner/gitlab-client.ts";
import { tlsFilesOf } from "../../runner/gitlab-tls.ts";
import { RunnerTokenRejectedError, verifyRunner } from "../../runner/runner-api.ts";
import { runnerInfo } from "../../runner/runner-info.ts";
import { shortToken } from "../../runner/short-token.ts";
import { loadSystemId } from "../../runner/system-id.ts";

export interface VerifyOptions {
  config?: string | undefined;
  name?: string | undefined;
  delete?: boolean | undefined;
}

/** `pier runner verify`: asks GitLab whether each runner's token is valid; `--delete` drops the others. */
export async function runnerVerifyCommand(options: VerifyOptions): Promise<number> {
  const configFile = options.config ?? defaultRunnerConfigFile();
  const { config } = readRunnerConfig(configFile);
  const selected = config.runners.filter(
    (entry) => options.name === undefined || entry.name === options.name,
  );
  if (selected.length === 0) {
    throw new UsageError(
      options.name === undefined
        ? `no runners in ${configFile}`
        : `no runner named "${options.name}" in ${configFile}`,
    );
  }
  const systemId = loadSystemId(configFile);
  const invalid = new Set<string>();
  let unverified = 0;
  for (const entry of selected) {
    const label = `${entry.name} ${shortToken(entry.token)}`;
    try {
      await verifyRunner(new GitLabClient({ url: entry.url, tls: tlsFilesOf(entry) }), {
        token: entry.token,
        systemId,
        info: runnerInfo(entry.executor, EXECUTORS[entry.executor]?.features ?? {}),
      });
      process.stdout.write(`Verifying runner... is valid: ${label}\n`);
    } catch (error) {
      if (!(error instanceof PierError)) throw error;
      if (error instanceof RunnerTokenRejectedError) {
        invalid.add(entry.token);
        process.stdout.write(`Verifying runner... is not valid: ${label}: ${error.message}\n`);
      } else {
        // GitLab unreachable or failing: no verdict on the token, so --delete keeps the entry.
        unverified += 1;
        process.stdout.write(
          `Verifying runner... could not be verified: ${label}: ${error.message}\n`,
        );
      }
    }
  }
  if (invalid.size > 0 && options.delete === true) {
    config.runners = config.runners.filter((entry) => !invalid.has(entry.token));
    writeRunnerConfig(configFile, config);
    process.stdout.write(`Removed ${invalid.size} invalid runner(s) from ${configFile}\n`);
    return unverified === 0 ? 0 : 1;
  }
  return invalid.size === 0 && unverified === 0 ? 0 : 1;
}
