import { spawn } from "node:child_process";
import { PierError } from "../errors.ts";

export interface GitResult {
  stdout: Buffer;
  stderr: string;
}

/** Variables that would point git at another repository than the one in `cwd`. */
const repositoryLocators = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_COMMON_DIR",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
];

/** The environment git runs with: pier's, with `extra`, optional locks off, no prompts. */
export function gitEnvironment(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extra,
    GIT_OPTIONAL_LOCKS: "0",
    GIT_TERMINAL_PROMPT: "0",
  };
  for (const name of repositoryLocators) if (extra?.[name] === undefined) delete env[name];
  return env;
}

/**
 * Runs git without a shell. Optional locks are off so that reading the user's repository
 * (diff, rev-parse) never rewrites its index behind their back.
 */
export function runGit(
  args: string[],
  o: { cwd: string; input?: Buffer | string; signal?: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const env = gitEnvironment(o.env);
    const child = spawn("git", args, {
      cwd: o.cwd,
      env,
      stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => err.push(chunk));
    child.on("error", (error) => {
      reject(
        o.signal?.aborted === true
          ? error
          : new PierError(`git ${args[0] ?? ""}: ${error.message}`, { cause: error }),
      );
    });
    child.on("close", (code) => {
      const stderr = Buffer.concat(err).toString("utf8");
      if (code === 0) {
        resolve({ stdout: Buffer.concat(out), stderr });
      } else {
        const detail = stderr.trim().split("\n").slice(-3).join(" ");
        reject(
          new PierError(`git ${args.join(" ")} failed (exit code ${String(code)}): ${detail}`),
        );
      }
    });
    if (child.stdin !== null) {
      child.stdin.on("error", () => {
        // git may exit before reading all of stdin; its exit code tells what happened.
      });
      child.stdin.end(o.input);
    }
  });
}
