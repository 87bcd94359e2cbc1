import { readRunnerConfig } from "../../runner/config-toml.ts";
import { defaultRunnerConfigFile } from "../../runner/config-path.ts";
import { shortToken } from "../../runner/short-token.ts";

/** `pier runner list`: the runners in config.toml, never their full tokens. */
export function runnerListCommand(options: { config?: string | undefined }): number {
  const configFile = options.config ?? defaultRunnerConfigFile();
  const { config, warnings } = readRunnerConfig(configFile);
  for (const warning of warnings) process.stderr.write(`pier: warning: ${warning}\n`);
  process.stdout.write(`Listing configured runners ConfigFile=${configFile}\n`);
  for (const entry of config.runners) {
    process.stdout.write(
      `${entry.name}\tExecutor=${entry.executor} Token=${shortToken(entry.token)} URL=${entry.url}\n`,
    );
  }
  return 0;
}
