const SHELL_CANDIDATES = [
  "/usr/local/bin/bash",
  "/usr/bin/bash",
  "/bin/bash",
  "/usr/local/bin/sh",
  "/usr/bin/sh",
  "/bin/sh",
  "/busybox/sh",
];

/**
 * The job container's command, as gitlab-runner's: `sh -c` finds bash in the usual places,
 * else sh, and execs it with no arguments, so the shell reads its commands from stdin.
 * `before` runs first (see stdinSources): when it sets `pier_script`, the shell runs that
 * script instead, as the step's line on stdin would have it run; when it sets
 * `pier_command`, the step's line it read.
 */
export function shellDetectionCommand(before?: string): string[] {
  const branches = SHELL_CANDIDATES.map(
    (path, index) => `${index === 0 ? "if" : "elif"} [ -x ${path} ]; then pier_shell=${path}`,
  );
  const detection = [
    `${branches.join("; ")}; else echo shell not found; exit 1; fi`,
    `if [ -n "\${pier_script:-}" ]; then umask 0000; exec "$pier_shell" "$pier_script" </dev/null; fi`,
    `if [ -n "\${pier_command:-}" ]; then exec "$pier_shell" -c "$pier_command" "$pier_shell"; fi`,
    'exec "$pier_shell"',
  ].join("; ");
  return ["sh", "-c", before === undefined ? detection : `${before}\n${detection}`];
}
