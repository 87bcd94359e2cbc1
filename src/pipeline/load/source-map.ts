import type { SourcePosition } from "../plan.ts";
import type { LinePositions } from "./line-index.ts";

/** A loaded file's name and line index, shared by every position in it. */
export interface SourceFile {
  name: string;
  lines: LinePositions;
}

/**
 * Where each loaded mapping and sequence, and each key of a mapping, came from. Kept beside the
 * plain values (in a hidden, non-enumerable property: not a key, not copied, not serialised) so
 * merged configurations stay ordinary JSON-like data. Offsets are turned into lines only when a
 * position is asked for: most never are.
 */
type Location = SourcePosition | { source: SourceFile; offset: number };

/**
 * A node's position and its keys'. A key's position is a bare offset when it is in the node's
 * own file (the usual case: no object per key), else a Location. A node made from others (a
 * merge, a copy) does not copy their keys' positions: it looks them up in `inherit`, first
 * match wins.
 */
interface NodeSource {
  file: SourceFile | undefined;
  offset: number;
  /** Set instead of file/offset when the position is already resolved. */
  position: SourcePosition | undefined;
  keys: KeyTable | undefined;
  inherit: NodeSource[] | undefined;
}

/**
 * Keys' positions: `[key, at, key, at, …]` for the few keys most mappings have (far smaller
 * than a Map), a Map for large mappings.
 */
type KeyTable = Array<string | number | Location> | Map<string, number | Location>;

const maxKeysInList = 16;

function keyAt(keys: KeyTable, key: string): number | Location | undefined {
  if (keys instanceof Map) return keys.get(key);
  for (let index = 0; index < keys.length; index += 2)
    if (keys[index] === key) return keys[index + 1] as number | Location;
  return undefined;
}

function storeKey(source: NodeSource, key: string, at: number | Location): void {
  const keys = source.keys;
  if (keys === undefined) {
    source.keys = [key, at];
    return;
  }
  if (keys instanceof Map) {
    keys.set(key, at);
    return;
  }
  for (let index = 0; index < keys.length; index += 2) {
    if (keys[index] === key) {
      keys[index + 1] = at;
      return;
    }
  }
  keys.push(key, at);
  if (keys.length > 2 * maxKeysInList) {
    const map = new Map<string, number | Location>();
    for (let index = 0; index < keys.length; index += 2)
      map.set(keys[index] as string, keys[index + 1] as number | Location);
    source.keys = map;
  }
}

/** Each key's position, for rewriting. */
function forEachKey(
  keys: KeyTable,
  visit: (key: string, at: number | Location) => number | Location,
): void {
  if (keys instanceof Map) {
    for (const [key, at] of keys) keys.set(key, visit(key, at));
    return;
  }
  for (let index = 0; index < keys.length; index += 2)
    keys[index + 1] = visit(keys[index] as string, keys[index + 1] as number | Location);
}

const positionKey = Symbol("pier.sourcePosition");

type Positioned = { [positionKey]?: NodeSource };

function sourceOf(node: object): NodeSource | undefined {
  return (node as Positioned)[positionKey];
}

function attach(node: object, source: NodeSource): void {
  Object.defineProperty(node, positionKey, {
    value: source,
    enumerable: false,
    writable: true,
    configurable: true,
  });
}

function newSource(): NodeSource {
  return { file: undefined, offset: 0, position: undefined, keys: undefined, inherit: undefined };
}

function toPosition(location: Location): SourcePosition {
  if (!("source" in location)) return location;
  const { line, col } = location.source.lines.linePos(location.offset);
  return { file: location.source.name, line, column: col };
}

function locationOf(source: NodeSource): Location | undefined {
  if (source.position) return source.position;
  return source.file ? { source: source.file, offset: source.offset } : undefined;
}

function keyLocation(source: NodeSource, key: string): Location | undefined {
  const at = source.keys && keyAt(source.keys, key);
  if (at !== undefined) {
    if (typeof at !== "number") return at;
    return source.file ? { source: source.file, offset: at } : undefined;
  }
  const parents = source.inherit;
  if (parents) {
    for (let index = 0; index < parents.length; index++) {
      const found = keyLocation(parents[index] as NodeSource, key);
      if (found) return found;
    }
  }
  return undefined;
}

function setAt(source: NodeSource, at: Location): void {
  if ("source" in at) {
    source.file = at.source;
    source.offset = at.offset;
    source.position = undefined;
  } else {
    source.file = undefined;
    source.position = at;
  }
}

function hasLocation(source: NodeSource): boolean {
  return source.position !== undefined || source.file !== undefined;
}

export function recordPosition(node: object, at: Location): void {
  const existing = sourceOf(node);
  if (existing) {
    // Keys stored as offsets of the old file keep their file.
    const keys = existing.keys;
    const oldFile = existing.file;
    setAt(existing, at);
    if (keys && oldFile && oldFile !== existing.file) {
      forEachKey(keys, (_key, value) =>
        typeof value === "number" ? { source: oldFile, offset: value } : value,
      );
    }
  } else {
    const source = newSource();
    setAt(source, at);
    attach(node, source);
  }
}

/** recordPosition for an offset in `file`, without a Location object. */
export function recordOffset(node: object, file: SourceFile, offset: number): void {
  if (sourceOf(node)) recordPosition(node, { source: file, offset });
  else attach(node, { file, offset, position: undefined, keys: undefined, inherit: undefined });
}

export function recordKeyPosition(node: object, key: string, at: Location): void {
  let source = sourceOf(node);
  if (!source) {
    source = newSource();
    setAt(source, at);
    attach(node, source);
  }
  if ("source" in at && at.source === source.file) storeKey(source, key, at.offset);
  else storeKey(source, key, at);
}

/** recordKeyPosition for an offset in `file`, without a Location object when it can. */
export function recordKeyOffset(node: object, key: string, file: SourceFile, offset: number): void {
  const source = sourceOf(node);
  if (source && source.file === file) storeKey(source, key, offset);
  else recordKeyPosition(node, key, { source: file, offset });
}

export function positionOf(node: unknown): SourcePosition | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const source = sourceOf(node);
  const at = source && locationOf(source);
  return at ? toPosition(at) : undefined;
}

/** Position of `key` in `node`, else of the node itself. */
export function keyPositionOf(node: unknown, key: string): SourcePosition | undefined {
  if (typeof node !== "object" || node === null) return undefined;
  const source = sourceOf(node);
  if (!source) return undefined;
  const at = keyLocation(source, key) ?? locationOf(source);
  return at ? toPosition(at) : undefined;
}

/** Copies the position of `from`'s key `key` to `to`. */
export function copyKeyPosition(from: object, to: object, key: string): void {
  const source = sourceOf(from);
  const at = source && keyLocation(source, key);
  if (at) recordKeyPosition(to, key, at);
}

/** Copies the node's own position (not its keys'). */
export function copyPosition(from: object, to: object): void {
  const source = sourceOf(from);
  const at = source && locationOf(source);
  if (at) recordPosition(to, at);
}

/**
 * Gives a new node the positions of the nodes it is made of, `from` in precedence order: its
 * own position is the first one's that has one, and each key's position the first one's that
 * has that key. Keys' positions are looked up when asked for, not copied. `to` must have no
 * positions yet.
 */
export function inheritPositions(to: object, from: readonly object[]): void {
  let target: NodeSource | undefined;
  // Index loops: `for…of` makes an iterator object per call in the unoptimised code that runs this.
  for (let index = 0; index < from.length; index++) {
    const source = sourceOf(from[index] as object);
    if (source) target = inheritFrom(target ?? newSource(), source);
  }
  if (target) attach(to, target);
}

/** Adds `source`'s position (when `target` has none yet) and its keys' to `target`. */
function inheritFrom(target: NodeSource, source: NodeSource): NodeSource {
  if (!hasLocation(target)) {
    target.file = source.file;
    target.offset = source.offset;
    target.position = source.position;
  }
  // A node without keys of its own adds only its parents: keeps lookups short.
  if (source.keys) (target.inherit ??= []).push(source);
  else if (source.inherit) {
    const parents = source.inherit;
    const inherit = (target.inherit ??= []);
    for (let index = 0; index < parents.length; index++) inherit.push(parents[index] as NodeSource);
  }
  return target;
}

/** Copies the node's own position and its keys' positions. */
export function copyNodePositions(from: object, to: object): void {
  const source = sourceOf(from);
  if (source) attach(to, inheritFrom(newSource(), source));
}
