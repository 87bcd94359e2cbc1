import { execFile, execFileSync } from "node:child_process";

/**
 * Runs a read-only git command in `cwd`; undefined when git fails (not a repository, unknown
 * ref, …). Optional locks are off so that reading never rewrites the index.
 */
export function gitOutput(cwd: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
    });
  } catch {
    return undefined;
  }
}

/** NUL-separated output (`-z`) as a list, without the empty trailing entry. */
export function splitNul(output: string): string[] {
  const parts = output.split("\0");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts;
}

/** gitOutput without blocking, so that several read-only commands can run at once. */
export function gitOutputAsync(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(
      "git",
      args,
      {
        cwd,
        encoding: "utf8",
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C", GIT_TERMINAL_PROMPT: "0" },
      },
      (error, stdout) => resolve(error ? undefined : stdout),
    ).stdin?.end();
  });
}
