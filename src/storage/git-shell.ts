import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { gitEnvironment } from "./run-git.ts";

function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/**
 * One long-lived `sh` that runs git commands one after another, for background work whose
 * output nobody reads (spare checkouts). Forking pier's large process costs milliseconds per
 * spawn on the main thread; the shell forks git instead. The shell ends with its input: on
 * `close()`, or when pier exits. Holds the event loop only while a command runs.
 */
export class GitShell {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, (exitCode: number) => void>();
  #nextId = 1;
  #output = "";
  #exited = false;

  constructor() {
    this.#child = spawn("/bin/sh", ["-s"], {
      env: gitEnvironment(),
      stdio: ["pipe", "pipe", "ignore"],
    });
    this.#child.on("error", () => this.#failAll());
    this.#child.on("exit", () => this.#failAll());
    this.#child.stdin?.on("error", () => undefined);
    this.#child.stdout?.setEncoding("utf8");
    this.#child.stdout?.on("data", (chunk: string) => this.#read(chunk));
    this.#hold(false);
  }

  /**
   * Runs `git <args>` in `cwd`; resolves with its exit code (127 when the shell is gone).
   * `prepare` folders and files (relative to `cwd`, which is created) are made first.
   */
  run(
    args: readonly string[],
    cwd: string,
    prepare: { dirs?: readonly string[]; files?: ReadonlyArray<[string, string]> } = {},
  ): Promise<number> {
    if (this.#exited) return Promise.resolve(127);
    const id = this.#nextId++;
    // One mkdir: every command the shell runs is a fork and an exec.
    const dirs = [cwd, ...(prepare.dirs ?? []).map((dir) => join(cwd, dir))];
    const steps = [`mkdir -p ${dirs.map(quote).join(" ")}`, `cd ${quote(cwd)}`];
    for (const [path, content] of prepare.files ?? []) {
      steps.push(`printf '%s' ${quote(content)} > ${quote(path)}`);
    }
    steps.push(`git ${args.map(quote).join(" ")} </dev/null >/dev/null 2>&1`);
    return this.#submit(id, steps.join(" && "));
  }

  #submit(id: number, command: string): Promise<number> {
    const done = new Promise<number>((resolve) => this.#pending.set(id, resolve));
    this.#hold(true);
    this.#child.stdin?.write(`${command}; echo "${String(id)} $?"\n`);
    return done;
  }

  close(): void {
    this.#child.stdin?.end();
  }

  #read(chunk: string): void {
    this.#output += chunk;
    let newline;
    while ((newline = this.#output.indexOf("\n")) >= 0) {
      const [id = "", code = ""] = this.#output.slice(0, newline).split(" ");
      this.#output = this.#output.slice(newline + 1);
      const resolve = this.#pending.get(Number(id));
      this.#pending.delete(Number(id));
      resolve?.(Number(code));
    }
    if (this.#pending.size === 0) this.#hold(false);
  }

  #failAll(): void {
    this.#exited = true;
    for (const resolve of this.#pending.values()) resolve(127);
    this.#pending.clear();
  }

  /** Keeps pier running while a command is pending; an idle shell must not. */
  #hold(busy: boolean): void {
    const handles = [this.#child, this.#child.stdout, this.#child.stdin] as Array<{
      ref?: () => void;
      unref?: () => void;
    } | null>;
    for (const handle of handles) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
  }
}

let shared: GitShell | undefined;

/** The process's shell for background work, started on first use. */
export function sharedGitShell(): GitShell {
  shared ??= new GitShell();
  return shared;
}

/** Ends the shell once what it was given is done; the next use starts another. */
export function closeSharedGitShell(): void {
  shared?.close();
  shared = undefined;
}
