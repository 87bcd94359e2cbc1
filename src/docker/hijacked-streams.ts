import type { Socket } from "node:net";
import { type Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";

import { demultiplex } from "./stream-demultiplexer.ts";

/**
 * A hijacked attach or exec connection. Write the process's stdin to `stdin`; `stdin.end()`
 * half-closes the connection, which the engine passes on as end-of-file (with `StdinOnce` the
 * container's stdin closes). Read both `stdout` and `stderr`: they share one connection.
 */
export interface HijackedStreams {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles when the engine has sent everything (the process's output is closed). */
  outputEnded: Promise<void>;
  /** Tears the connection down; outputs end with an error. Safe to call twice. */
  destroy(): void;
}

export function wrapHijackedSocket(socket: Socket): HijackedStreams {
  socket.setNoDelay?.(true);
  const { stdout, stderr } = demultiplex(socket);
  const stdin = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, (error) => callback(error ?? null));
    },
    final(callback) {
      socket.end();
      callback();
    },
    destroy(error, callback) {
      callback(error);
    },
  });
  // Writing into a connection the engine already closed must not crash the process.
  stdin.on("error", () => {});
  const outputEnded = Promise.all([
    finished(stdout, { writable: false }),
    finished(stderr, { writable: false }),
  ]).then(() => undefined);
  outputEnded.catch(() => {});
  return {
    stdin,
    stdout,
    stderr,
    outputEnded,
    destroy: () => {
      socket.destroy();
    },
  };
}
