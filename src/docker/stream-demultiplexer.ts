import { Readable } from "node:stream";

/** Stream ids of the engine's multiplexed format (non-TTY attach, exec and logs). */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const SYSTEM_ERROR = 3;
const HEADER_SIZE = 8;

export interface DemultiplexedOutput {
  stdout: Readable;
  stderr: Readable;
}

/**
 * Splits the engine's framed output (8-byte headers: stream id, 3 zero bytes, big-endian
 * length) into stdout and stderr. Backpressure is shared: when either side is full the source
 * is paused, so a consumer must read both sides (or `resume()` the one it does not want).
 * Stream 3 (the engine's own error for exec, newer engines) goes to stderr. When the source
 * fails or closes before its end, both sides fail with that error.
 */
export function demultiplex(source: Readable): DemultiplexedOutput {
  let pending: Buffer = Buffer.alloc(0);
  const resumeSource = (): void => {
    if (source.isPaused()) source.resume();
  };
  const stdout = new Readable({ read: resumeSource });
  const stderr = new Readable({ read: resumeSource });
  // A broken connection must not crash the process through a side nobody listens to yet;
  // readers still see the error (iteration and pipeline check the stream's errored state).
  stdout.on("error", () => {});
  stderr.on("error", () => {});

  source.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let offset = 0;
    let wantsMore = true;
    while (pending.length - offset >= HEADER_SIZE) {
      const streamId = pending[offset] as number;
      const length = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - HEADER_SIZE < length) break;
      const payload = pending.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + length);
      offset += HEADER_SIZE + length;
      const target =
        streamId === STDOUT || streamId === STDIN
          ? stdout
          : streamId === STDERR || streamId === SYSTEM_ERROR
            ? stderr
            : undefined;
      if (target === undefined) {
        const error = new Error(`unknown stream id ${streamId} in the engine's output`);
        source.destroy(error);
        return;
      }
      if (length > 0 && !target.push(Buffer.from(payload))) wantsMore = false;
    }
    pending = offset === 0 ? pending : pending.subarray(offset);
    if (!wantsMore) source.pause();
  });
  let finished = false;
  const finish = (error?: Error): void => {
    if (finished) return;
    finished = true;
    if (error !== undefined) {
      stdout.destroy(error);
      stderr.destroy(error);
      return;
    }
    stdout.push(null);
    stderr.push(null);
  };
  source.on("end", () => finish());
  source.on("error", (error: Error) => finish(error));
  source.on("close", () => {
    // A socket destroyed without an error (abort by the caller) still ends the outputs.
    if (!finished) finish(new Error("the engine's output stream closed early"));
  });
  return { stdout, stderr };
}
