import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { HijackedStreams } from "../../docker/hijacked-streams.ts";
import { shellQuote } from "../shell/step-script.ts";

/**
 * The build tree can reach a job container through its attached stdin, unpacked by the image's
 * own `tar`: that spares the engine an archive call (a mount and a re-exec of dockerd each) and
 * the job a build volume and a helper container while its container starts. Only for a
 * container whose command pier's shell runs as root (no entrypoint in between, see
 * usesStdinSources). The container asks first, since not every image has `tar` and `head -c`
 * or a writable `/`; without them the tree goes in through the archive API as before.
 *
 * The exchange, before the shell is picked: the container prints `\n<marker> stdin` (it can
 * unpack) or `\n<marker> archive` on stdout and reads one line: a byte count `n`, then unpacks
 * the next `n` bytes of stdin at `/` and runs the script step at once (`pier_script`, see
 * shellDetectionCommand) without reading the step's line from stdin: busybox's `head -c`
 * reads past its count, and this saves a round trip. `-` means the tree was put in by the
 * archive API, and the step's line follows on stdin as usual; any other line is a step's line
 * itself (a restart for after_script whose `tmpDir` the job removed). A restart finds
 * `tmpDir` there and asks nothing.
 */
export interface StdinSources {
  marker: string;
  /** Shell commands run by `sh -c` before the shell detection. */
  receiver: string;
}

export function stdinSources(tmpDir: string, scriptStep: string): StdinSources {
  const marker = `pier-sources-${randomBytes(8).toString("hex")}`;
  const receiver = [
    `if [ ! -d ${shellQuote(tmpDir)} ]; then`,
    `if [ -w / ] && command -v tar >/dev/null 2>&1 && head -c 0 </dev/null >/dev/null 2>&1; then printf '\\n%s stdin\\n' ${marker}; else printf '\\n%s archive\\n' ${marker}; fi`,
    "IFS= read -r pier_sources || exit 1",
    'case "$pier_sources" in',
    "[0-9]*)",
    '(umask 0000 && head -c "$pier_sources" | tar -xf - -C /) || { echo "pier: the sources could not be unpacked in the container" >&2; exit 1; }',
    `if [ -f ${shellQuote(scriptStep)} ]; then pier_script=${shellQuote(scriptStep)}; fi;;`,
    "-) ;;",
    "*) pier_command=$pier_sources;;",
    "esac",
    "fi",
  ].join("\n");
  return { marker, receiver };
}

/** Output a container printed before the line awaited, larger than any entrypoint would print. */
const MAX_OUTPUT_BEFORE_LINE = 1024 * 1024;

/**
 * Waits for the container's `\n<marker> <word>\n` and returns the word (`stdin`, `archive`),
 * or undefined when the container stopped first. What it printed around it stays in its
 * streams (put back, paused) for the script stage to read in order; the marker and the
 * newlines around it are dropped (the first one ends a line the output may have left open). Output of a container that stopped is in `unread`, for
 * the caller to log.
 */
export function awaitMarkedLine(
  streams: HijackedStreams,
  marker: string,
  signal: AbortSignal,
): Promise<{ word: string | undefined; unread: Buffer[] }> {
  const { stdout, stderr } = streams;
  const line = Buffer.from(`\n${marker} `);
  let seenOut: Buffer = Buffer.alloc(0);
  const seenErr: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const stopListening = (): void => {
      stdout.off("data", onOut);
      stderr.off("data", onErr);
      stdout.off("end", onEnd);
      stdout.off("error", onEnd);
      signal.removeEventListener("abort", onAbort);
    };
    const failed = (error: Error): void => {
      stopListening();
      putBack(stdout, [seenOut]);
      putBack(stderr, seenErr);
      reject(error);
    };
    const onOut = (chunk: Buffer): void => {
      seenOut = seenOut.length === 0 ? chunk : Buffer.concat([seenOut, chunk]);
      const found = seenOut.indexOf(line);
      const end = found === -1 ? -1 : seenOut.indexOf(0x0a, found + line.length);
      if (found !== -1 && end !== -1) {
        stopListening();
        putBack(stdout, [seenOut.subarray(0, found), seenOut.subarray(end + 1)]);
        putBack(stderr, seenErr);
        resolve({
          word: seenOut.subarray(found + line.length, end).toString("latin1"),
          unread: [],
        });
      } else if (seenOut.length > MAX_OUTPUT_BEFORE_LINE) {
        failed(new Error("the job container printed too much before taking its sources"));
      }
    };
    const onErr = (chunk: Buffer): void => {
      seenErr.push(chunk);
    };
    const onEnd = (): void => {
      stopListening();
      resolve({ word: undefined, unread: [seenOut, ...seenErr].filter((b) => b.length > 0) });
    };
    const onAbort = (): void =>
      failed(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    stdout.on("data", onOut);
    stderr.on("data", onErr);
    stdout.once("end", onEnd);
    stdout.once("error", onEnd);
    // Put back and paused by an earlier wait: a listener alone would not restart them.
    stdout.resume();
    stderr.resume();
  });
}

/** Paused, with `chunks` first: the next reader resumes it (see runStage's pipeToTrace). */
function putBack(stream: Readable, chunks: Buffer[]): void {
  stream.pause();
  for (let i = chunks.length - 1; i >= 0; i -= 1) {
    const chunk = chunks[i];
    if (chunk !== undefined && chunk.length > 0 && !stream.readableEnded) stream.unshift(chunk);
  }
}

/** The answer to `stdin`: the tree's size, then the tree. */
export function sendTreeOnStdin(streams: HijackedStreams, archive: Buffer): void {
  streams.stdin.write(`${archive.length}\n`);
  streams.stdin.write(archive);
}

/** The answer when the tree went in by the archive API. */
export function sendTreeElsewhere(streams: HijackedStreams): void {
  streams.stdin.write("-\n");
}
