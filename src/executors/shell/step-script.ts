import { ANSI_BOLD_GREEN, ANSI_RESET } from "../../trace/ansi.ts";
import type { HostShell } from "./find-shell.ts";

/** Quotes any text for a POSIX shell: one single-quoted word. */
export function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

function echoLine(text: string): string {
  return `printf '%s\\n' ${shellQuote(text)}`;
}

/** What gitlab-runner echoes before a command: `$ cmd`, or its first line for a multi-line one. */
export function commandEcho(command: string): string {
  const [first = "", ...rest] = command.split("\n");
  return rest.length > 0 ? `$ ${first} # collapsed multi-line command` : `$ ${first}`;
}

/**
 * The script one step runs, modelled on gitlab-runner's bash writer: TERM makes the shell
 * exit 1 (so a cancel does not dump the script), pipefail when the shell has it, errexit, no
 * noclobber; stderr joins stdout so the log keeps the order the job wrote in. Each command is
 * echoed in green as `$ cmd` before it runs.
 */
export function stepScript(options: {
  shell: HostShell["kind"];
  commands: readonly string[];
  /** A green line before the commands ("Running after script..."). */
  notice?: string;
  debugTrace?: boolean;
}): string {
  const { shell } = options;
  const lines: string[] = ["trap exit 1 TERM"];
  lines.push(
    shell === "bash"
      ? "set -o pipefail"
      : "if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi",
  );
  lines.push("set -o errexit", "set +o noclobber", "exec 2>&1");
  if (options.debugTrace === true) lines.push("set -o xtrace");
  if (options.notice !== undefined) {
    lines.push(echoLine(`${ANSI_BOLD_GREEN}${options.notice}${ANSI_RESET}`));
  }
  for (const raw of options.commands) {
    const command = raw.trim();
    if (command === "") {
      lines.push("echo");
      continue;
    }
    lines.push(echoLine(`${ANSI_BOLD_GREEN}${commandEcho(command)}${ANSI_RESET}`));
    lines.push(command);
  }
  lines.push("exit 0", "");
  return lines.join("\n");
}
