import { Command, CommanderError } from "@commander-js/extra-typings";
import { PierError } from "../errors.ts";
import type { RunOptions } from "./commands/run.ts";
import type { PipelineFlags } from "./pipeline-request.ts";
import { pierVersion } from "./version.ts";

/** Options every command that reads a pipeline takes (the flags withPipelineOptions adds). */
export type PipelineOptions = PipelineFlags;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function withPipelineOptions<C extends Command>(command: C): C {
  command
    .option("-f, --file <path>", "pipeline file, relative to the repository", ".gitlab-ci.yml")
    .option("-C, --directory <dir>", "repository to read (default: current directory)", ".")
    .option("--variable <KEY=VALUE>", "pipeline variable (repeatable)", collect, [] as string[])
    .option("--ref <ref>", "git ref the pipeline runs for (default: the checked-out branch)")
    .option("--branch <name>", "run as a branch pipeline for <name>")
    .option("--tag <name>", "run as a tag pipeline for <name>")
    .option("--source <source>", "CI_PIPELINE_SOURCE: push, web, schedule, merge_request_event, …");
  return command;
}

/** Set by a command's action when it ends with something other than 0. */
let commandExitCode = 0;

/**
 * How each command is added to the program. Setting up every command's options costs each start
 * ~2 ms; a run of one command sets up only that one (see commandsToDefine).
 */
const commandDefinitions: Record<string, (program: Command) => void> = {
  run(program) {
    withPipelineOptions(program.command("run").description("run the pipeline on this machine"))
      .argument("[jobs...]", "run only these jobs and what they need")
      .option("--executor <name>", "shell or docker (default: from --config, else shell)")
      .option("--concurrency <n>", "jobs at once (default: `concurrent` from --config, else CPUs)")
      .option("--manual <job>", "play this manual job (repeatable)", collect, [] as string[])
      .option("--report <file>", "write a JSON report of the run")
      .option("--plain", "plain output: no status line redraws (default when not a terminal)")
      .option("--config <file>", "runner settings from a gitlab-runner config.toml")
      .option("--variables-file <file>", "project CI/CD variables (YAML)")
      .option("--artifacts-to <dir>", "copy the run's artifacts into <dir>")
      .action(async (jobs, options) => {
        const { runCommand } = await import("./commands/run.ts");
        // withPipelineOptions adds options the inferred type cannot see.
        commandExitCode = await runCommand(jobs, options as unknown as RunOptions);
      });
  },
  list(program) {
    withPipelineOptions(program.command("list").description("list the jobs the pipeline would run"))
      .option("--json", "print JSON")
      .action(async (options) => {
        const { listCommand } = await import("./commands/list.ts");
        await listCommand(options as unknown as PipelineOptions & { json?: boolean });
      });
  },
  lint(program) {
    withPipelineOptions(program.command("lint").description("check the pipeline file")).action(
      async (options) => {
        const { lintCommand } = await import("./commands/lint.ts");
        await lintCommand(options as unknown as PipelineOptions);
      },
    );
  },
  config(program) {
    withPipelineOptions(
      program.command("config").description("print the fully merged pipeline YAML"),
    ).action(async (options) => {
      const { configCommand } = await import("./commands/config.ts");
      await configCommand(options as unknown as PipelineOptions);
    });
  },
  plan(program) {
    withPipelineOptions(program.command("plan").description("print the planned pipeline"))
      .option("--json", "print JSON")
      .action(async (options) => {
        const { planCommand } = await import("./commands/plan.ts");
        await planCommand(options as unknown as PipelineOptions & { json?: boolean });
      });
  },
  gc(program) {
    program
      .command("gc")
      .description("remove what dead pier processes left behind, and bound what pier keeps")
      .option("--dry-run", "only show what would be removed")
      .option(
        "--max-age <duration>",
        "remove kept caches unused for this long (never: no limit)",
        "30d",
      )
      .option(
        "--max-size <size>",
        "then remove the least recently used kept caches above this size",
      )
      .action(async (options) => {
        const { gcCommand } = await import("./commands/gc.ts");
        commandExitCode = await gcCommand(options);
      });
  },
  runner: defineRunnerCommands,
};

function defineRunnerCommands(program: Command): void {
  const runner = program
    .command("runner")
    .description("run pier as a self-hosted GitLab runner (gitlab-runner compatible config.toml)");
  const configOption = "config.toml (default: $XDG_CONFIG_HOME/pier/config.toml)";
  runner
    .command("register")
    .description("register a runner with GitLab and add it to config.toml")
    .option("-u, --url <url>", "GitLab instance URL")
    .option("-t, --token <token>", "runner authentication token (glrt-…) or registration token")
    .option("-r, --registration-token <token>", "registration token (legacy flow)")
    .option("--executor <name>", "shell or docker")
    .option("--name <name>", "the runner's name in config.toml (default: host name)")
    .option("--description <text>", "legacy flow: the runner's description in GitLab")
    .option("--tag-list <tags>", "legacy flow: comma-separated tags")
    .option("--run-untagged", "legacy flow: also run untagged jobs")
    .option(
      "--locked <bool>",
      "legacy flow: lock to the project (default true)",
      (v) => v !== "false",
    )
    .option("--maximum-timeout <seconds>", "legacy flow: maximum job timeout")
    .option("--paused", "legacy flow: register paused")
    .option("--maintenance-note <text>", "legacy flow: maintenance note")
    .option("--access-level <level>", "legacy flow: not_protected or ref_protected")
    .option("--limit <n>", "jobs this runner may run at once")
    .option("--tls-ca-file <file>", "CA certificate(s) GitLab's HTTPS certificate is signed with")
    .option("--tls-cert-file <file>", "client certificate for GitLab (with --tls-key-file)")
    .option("--tls-key-file <file>", "the client certificate's private key")
    .option("-n, --non-interactive", "never prompt")
    .option("-c, --config <file>", configOption)
    .action(async (options) => {
      const { runnerRegisterCommand } = await import("./commands/runner-register.ts");
      commandExitCode = await runnerRegisterCommand(options);
    });
  runner
    .command("verify")
    .description("check the runners' tokens with GitLab")
    .option("--name <name>", "only this runner")
    .option("--delete", "remove runners GitLab no longer knows from config.toml")
    .option("-c, --config <file>", configOption)
    .action(async (options) => {
      const { runnerVerifyCommand } = await import("./commands/runner-verify.ts");
      commandExitCode = await runnerVerifyCommand(options);
    });
  runner
    .command("unregister")
    .description("remove runners from GitLab and from config.toml")
    .option("--name <name>", "the runner with this name")
    .option("-u, --url <url>", "with --token: the runner with this URL")
    .option("-t, --token <token>", "the runner with this token")
    .option("--all-runners", "every runner in config.toml")
    .option("-c, --config <file>", configOption)
    .action(async (options) => {
      const { runnerUnregisterCommand } = await import("./commands/runner-unregister.ts");
      commandExitCode = await runnerUnregisterCommand(options);
    });
  runner
    .command("list")
    .description("list the runners in config.toml")
    .option("-c, --config <file>", configOption)
    .action(async (options) => {
      const { runnerListCommand } = await import("./commands/runner-list.ts");
      commandExitCode = runnerListCommand(options);
    });
  runner
    .command("run")
    .description("ask GitLab for jobs and run them (SIGQUIT: finish jobs and stop)")
    .option("-c, --config <file>", configOption)
    .option("--log-format <format>", "text or json (default: log_format from config.toml)")
    .option("--log-level <level>", "debug, info, warn or error (default: log_level)")
    .action(async (options) => {
      const { runnerRunCommand } = await import("./commands/runner-run.ts");
      commandExitCode = await runnerRunCommand(options);
    });
}

const programFlags = new Set(["--debug", "-V", "--version"]);

/**
 * The commands argv needs defined: all of them, unless what commander prints and checks for argv
 * cannot involve the others. That is so for a known command with only --debug or --version before
 * it (the program's help lists every command), and for --version alone (commander prints the
 * version while it reads the program's options, before any command is looked for).
 */
export function commandsToDefine(argv: readonly string[]): string[] {
  const all = Object.keys(commandDefinitions);
  const commandIndex = argv.findIndex((arg) => !arg.startsWith("-"));
  const flags = commandIndex === -1 ? argv : argv.slice(0, commandIndex);
  if (!flags.every((flag) => programFlags.has(flag))) return all;
  const command = commandIndex === -1 ? undefined : argv[commandIndex];
  if (command !== undefined) return Object.hasOwn(commandDefinitions, command) ? [command] : all;
  return flags.some((flag) => flag !== "--debug") ? [] : all;
}

function buildProgram(argv: readonly string[]): Command {
  const program = new Command("pier")
    .description("Run GitLab CI pipelines on your own machines.")
    .version(pierVersion(), "-V, --version", "print pier's version")
    .helpOption("-h, --help", "show help")
    .option("--debug", "show stack traces for unexpected errors")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  for (const name of commandsToDefine(argv)) commandDefinitions[name]?.(program);
  return program;
}

/** Runs pier with argv (without node and script) and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(argv);
  const debug = argv.includes("--debug");
  try {
    commandExitCode = 0;
    await program.parseAsync(argv, { from: "user" });
    return commandExitCode;
  } catch (error) {
    return reportError(error, debug);
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) return 0; // --help, --version
    process.stderr.write(`pier: ${error.message.replace(/^error: /, "")}\n`);
    return 2;
  }
  if (error instanceof PierError) {
    process.stderr.write(`pier: ${error.message}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`pier: internal error: ${message} (this is a bug; rerun with --debug)\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return 70;
}
