import { PierError } from "../errors.ts";

/** The engine answered with an HTTP error. `message` is ours; `engineMessage` is the engine's own. */
export class DockerApiError extends PierError {
  readonly status: number;
  readonly method: string;
  /** The path without the version prefix and query, e.g. `/containers/abc/archive`. */
  readonly endpoint: string;
  readonly engineMessage: string;

  constructor(
    message: string,
    details: { status: number; method: string; endpoint: string; engineMessage: string },
  ) {
    super(message);
    this.status = details.status;
    this.method = details.method;
    this.endpoint = details.endpoint;
    this.engineMessage = details.engineMessage;
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  get isConflict(): boolean {
    return this.status === 409;
  }
}

/** The engine did not answer at all: no socket, refused, TLS handshake failed, bad DOCKER_HOST. */
export class DockerUnavailableError extends PierError {
  readonly host: string;

  constructor(host: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot reach the Docker engine at ${host}: ${reason}`, options);
    this.host = host;
  }
}

/** The connection broke after the engine had answered (reset mid-stream, engine restarted). */
export class DockerConnectionError extends PierError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A pull or push reported an error inside its progress stream (HTTP 200, error in the body). */
export class DockerProgressError extends PierError {
  readonly engineMessage: string;

  constructor(message: string, engineMessage: string) {
    super(message);
    this.engineMessage = engineMessage;
  }
}
