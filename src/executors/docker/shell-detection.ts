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
 */
export function shellDetectionCommand(): string[] {
  const branches = SHELL_CANDIDATES.map(
    (path, index) => `${index === 0 ? "if" : "elif"} [ -x ${path} ]; then exec ${path}`,
  );
  return ["sh", "-c", `${branches.join("; ")}; else echo shell not found; exit 1; fi`];
}
