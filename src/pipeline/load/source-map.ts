import type { LineCounter } from "yaml";
import type { SourcePosition } from "../plan.ts";

/** A loaded file's name and line index, shared by every position in it. */
export interface SourceFile {
  name: string;
  lines: LineCounter;
}

/**
 * Where each loaded mapping and sequence, and each key of a mapping, came from. Kept beside the
 * plain values (not inside them) so merged configurations stay ordinary JSON-like data. Offsets
 * are turned into lines only when a position is asked for: most never are.
 */
type Location = SourcePosition | { source: SourceFile; offset: number };

interface NodeSource {
  at: Location;
  keys?: Map<string, Location>;
}

const sources = new WeakMap<object, NodeSource>();

function toPosition(location: Location): SourcePosition {
  if (!("source" in location)) return location;
  const { line, col } = location.source.lines.linePos(location.offset);
  return { file: location.source.name, line, column: col };
}

export function recordPosition(node: object, at: Location): void {
  const existing = sources.get(node);
  if (existing) existing.at = at;
  else sources.set(node, { at });
}

export function recordKeyPosition(node: object, key: string, at: Location): void {
  let source = sources.get(node);
  if (!source) {
    source = { at };
    sources.set(node, source);
  }
  (source.keys ??= new Map()).set(key, at);
}

export function positionOf(node: unknown): SourcePosition | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const at = sources.get(node)?.at;
  return at ? toPosition(at) : undefined;
}

/** Position of `key` in `node`, else of the node itself. */
export function keyPositionOf(node: unknown, key: string): SourcePosition | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const source = sources.get(node);
  const at = source?.keys?.get(key) ?? source?.at;
  return at ? toPosition(at) : undefined;
}

/** Copies the position of `from`'s key `key` to `to`. */
export function copyKeyPosition(from: object, to: object, key: string): void {
  const at = sources.get(from)?.keys?.get(key);
  if (at) recordKeyPosition(to, key, at);
}

/** Copies the node's own position (not its keys'). */
export function copyPosition(from: object, to: object): void {
  const at = sources.get(from)?.at;
  if (at) recordPosition(to, at);
}

/** Copies the node's own position and its keys' positions. */
export function copyNodePositions(from: object, to: object): void {
  const source = sources.get(from);
  if (!source) return;
  sources.set(to, source.keys ? { at: source.at, keys: new Map(source.keys) } : { at: source.at });
}
