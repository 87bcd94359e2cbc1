import type { SourcePosition } from "../plan.ts";

/**
 * Where each loaded mapping and sequence, and each key of a mapping, came from. Kept beside the
 * plain values (not inside them) so merged configurations stay ordinary JSON-like data.
 */
interface NodeSource {
  at: SourcePosition;
  keys?: Map<string, SourcePosition>;
}

const sources = new WeakMap<object, NodeSource>();

export function recordPosition(node: object, at: SourcePosition): void {
  const existing = sources.get(node);
  if (existing) existing.at = at;
  else sources.set(node, { at });
}

export function recordKeyPosition(node: object, key: string, at: SourcePosition): void {
  let source = sources.get(node);
  if (!source) {
    source = { at };
    sources.set(node, source);
  }
  (source.keys ??= new Map()).set(key, at);
}

export function positionOf(node: unknown): SourcePosition | undefined {
  return typeof node === "object" && node !== null ? sources.get(node)?.at : undefined;
}

/** Position of `key` in `node`, else of the node itself. */
export function keyPositionOf(node: unknown, key: string): SourcePosition | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const source = sources.get(node);
  return source?.keys?.get(key) ?? source?.at;
}

/** Copies the position of `from` (and of its key `key`) to `to`. */
export function copyKeyPosition(from: object, to: object, key: string): void {
  const at = sources.get(from)?.keys?.get(key);
  if (at) recordKeyPosition(to, key, at);
}
