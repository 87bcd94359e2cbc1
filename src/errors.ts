/**
 * Errors that the CLI turns into one clear line and an exit code.
 * Anything else reaching the CLI is a bug and is reported as such.
 */
export class PierError extends Error {
  readonly exitCode: number;

  constructor(message: string, options?: { exitCode?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Bad flags, bad configuration, bad pipeline file: exit code 2. */
export class UsageError extends PierError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { exitCode: 2, ...options });
  }
}
