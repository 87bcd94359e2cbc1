import { UsageError } from "../../errors.ts";
import { readRunnerConfig, writeRunnerConfig } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { GitLabClient } from "../../runner/gitlab-client.ts";
import { tlsFilesOf } from "../../runner/gitlab-tls.ts";
import { unregisterRunner } from "../../runner/runner-api.ts";
import { shortToken } from "../../runner/short-token.ts";

export interface UnregisterOptions {
  config?: string | undefined;
  name?: string | undefined;
  url?: string | undefined;
  token?: string | undefined;
  allRunners?: boolean | undefined;
}

/** `pier runner unregister`: removes runners from GitLab, then from config.toml. */
export async function runnerUnregisterCommand(options: UnregisterOptions): Promise<number> {
  const configFile = options.config ?? defaultRunnerConfigFile();
  const { config } = readRunnerConfig(configFile);
  const selected = config.runners.filter((entry) => {
    if (options.allRunners === true) return true;
    if (options.name !== undefined) return entry.name === options.name;
    if (options.token !== undefined) {
      return (
        entry.token === options.token && (options.url === undefined || entry.url === options.url)
      );
    }
    return false;
  });
  if (options.allRunners !== true && options.name === undefined && options.token === undefined) {
    throw new UsageError(
      "say which runner: --name NAME, --url URL --token TOKEN, or --all-runners",
    );
  }
  if (selected.length === 0 && options.allRunners !== true) {
    throw new UsageError(`no such runner in ${configFile}`);
  }
  const removed = new Set<string>();
  for (const entry of selected) {
    const label = `${entry.name} ${shortToken(entry.token)}`;
    const client = new GitLabClient({ url: entry.url, tls: tlsFilesOf(entry) });
    const known = await unregisterRunner(client, { token: entry.token });
    removed.add(entry.token);
    process.stdout.write(
      known
        ? `Unregistering runner from GitLab succeeded: ${label}\n`
        : `GitLab no longer knows runner ${label}; removing it from the configuration\n`,
    );
  }
  config.runners = config.runners.filter((entry) => !removed.has(entry.token));
  writeRunnerConfig(configFile, config);
  return 0;
}
