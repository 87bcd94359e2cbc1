import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";

import { abortReason } from "./engine-transport.ts";

/**
 * Parses newline-delimited JSON (pull/push progress, events) as it arrives. Lines that are not
 * JSON are skipped: engines have been known to interleave blank keep-alive lines.
 */
export async function* readJsonLines<T>(
  stream: Readable,
  signal?: AbortSignal,
): AsyncGenerator<T, void, undefined> {
  const decoder = new StringDecoder("utf8");
  let rest = "";
  try {
    for await (const chunk of stream) {
      rest += decoder.write(chunk as Buffer);
      let newline = rest.indexOf("\n");
      while (newline >= 0) {
        const line = rest.slice(0, newline).trim();
        rest = rest.slice(newline + 1);
        const parsed = parseLine<T>(line);
        if (parsed !== undefined) yield parsed;
        newline = rest.indexOf("\n");
      }
    }
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  } finally {
    stream.destroy();
  }
  const last = parseLine<T>((rest + decoder.end()).trim());
  if (last !== undefined) yield last;
}

function parseLine<T>(line: string): T | undefined {
  if (line === "") return undefined;
  try {
    return JSON.parse(line) as T;
  } catch {
    return undefined;
  }
}
