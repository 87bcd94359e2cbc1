import { copyNodePositions, recordKeyOffset, recordOffset, type SourceFile } from "./source-map.ts";
import { LineIndex, type LineRecorder } from "./line-index.ts";
import { isPlainObject, setKey } from "./plain-object.ts";
import { ReferenceTag } from "./reference-tag.ts";
import { mayBeSpecialStart, mergeKey, resolveYaml11Plain } from "./yaml-scalars.ts";

/**
 * Which source positions a read records: "all" (every node and key, for messages), or
 * "top-keys" (only the top-level keys, where jobs are: what a plan shows when nothing is wrong).
 */
export type PositionDetail = "all" | "top-keys";

/**
 * A direct reader for the YAML that pipelines are made of: block mappings and sequences, flow
 * collections on one line, plain and quoted scalars on one line, literal and folded block
 * scalars, comments, anchors, aliases, `<<` merge keys and `!reference [..]`. It yields the
 * same values and positions as the full `yaml` Document path (parse-yaml.ts) at a fraction of
 * the time and memory. Anything else (multi-line flow or plain scalars, other tags, tabs,
 * several documents, every error) gives up with `undefined`, and the caller reads the file
 * with the `yaml` library, which then decides and words the errors.
 */
export function readPipelineYaml(
  text: string,
  source: { name: string; lines: LineRecorder },
  positions: PositionDetail = "all",
): { body: unknown } | undefined {
  try {
    return { body: new FastReader(text, source, positions === "all").document() };
  } catch (error) {
    if (error === giveUp) return undefined;
    throw error;
  }
}

const giveUp = new Error("fast YAML reader gives up");

/** Far below the limits parse-yaml.ts enforces, so that the full path reports those. */
const maxDepth = 60;
const maxAliasNodes = 100_000;

/** A plain scalar's value under the YAML 1.1 schema, as the `yaml` library resolves it. */
function resolvePlain(text: string, atKey: boolean, cache: Map<string, unknown>): unknown {
  let value = cache.get(text);
  if (value === undefined && !cache.has(text)) {
    value = resolveYaml11Plain(text, atKey);
    // Timestamps: the full path refuses them with its own message.
    if (value === undefined) throw giveUp;
    cache.set(text, value);
  }
  return value;
}

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;

interface Anchored {
  value: unknown;
  size: number;
}

class FastReader {
  private readonly text: string;
  private readonly source: SourceFile;
  private readonly starts: number[];
  /** End of each line (index of its `\n` or the text length). */
  private readonly ends: number[];
  /** Spaces before each line's first character; -1 for blank and comment-only lines. */
  private readonly indents: number[];
  /** Lines that are document markers (`---` or `...` at the start of a line). */
  private readonly markers: number[] = [];
  private readonly anchors = new Map<string, Anchored>();
  /** Resolved plain scalars: values repeat (for this file only, so nothing outlives it). */
  private readonly plainCache = new Map<string, unknown>();
  private readonly keyCache = new Map<string, unknown>();
  /** Anchors whose node is being read: an alias to one of them is left to the full path. */
  private readonly pendingAnchors = new Set<string>();
  private aliasNodes = 0;
  /** Nodes made by the value being read, for anchors' sizes. */
  private nodes = 0;
  /** False: only the top-level mapping's keys get positions (PositionDetail "top-keys"). */
  private readonly allPositions: boolean;
  private topNodeMade = false;

  constructor(text: string, source: { name: string; lines: LineRecorder }, allPositions: boolean) {
    this.allPositions = allPositions;
    if (text.includes("\t") || text.includes("\r") || text.charCodeAt(0) === 0xfeff) throw giveUp;
    this.text = text;
    this.source = source;
    // One pass over the lines: where each starts and ends, its indentation, document markers.
    const starts: number[] = [];
    const ends: number[] = [];
    const indents: number[] = [];
    const length = text.length;
    let start = 0;
    for (;;) {
      let end = text.indexOf("\n", start);
      if (end === -1) end = length;
      let at = start;
      while (at < end && text.charCodeAt(at) === SPACE) at++;
      if (at === end || text.charCodeAt(at) === HASH) indents.push(-1);
      else {
        indents.push(at - start);
        if (at === start && isDocumentMarker(text, start, end)) this.markers.push(starts.length);
      }
      starts.push(start);
      ends.push(end);
      if (end === length) break;
      start = end + 1;
    }
    if (source.lines instanceof LineIndex) source.lines.addLineStarts(starts);
    else for (const lineStart of starts) source.lines.addNewLine(lineStart);
    this.starts = starts;
    this.ends = ends;
    this.indents = indents;
  }

  document(): unknown {
    let line = this.nextContent(0);
    const markers = this.markers;
    if (markers[0] === line && this.text.startsWith("---", this.starts[line])) {
      const start = this.starts[line] as number;
      if (!this.restIsEmpty(start + 3, this.ends[line] as number)) throw giveUp;
      line = this.nextContent(line + 1);
      if (markers.length > 1) throw giveUp;
    } else if (markers.length > 0) throw giveUp;
    if (line >= this.starts.length) return null;
    const indent = this.indents[line] as number;
    const { value, next } = this.blockNode(line, (this.starts[line] as number) + indent, -1, 0);
    if (next < this.starts.length) throw giveUp;
    return value;
  }

  /**
   * Whether the collection being made gets positions: every one, or only the first one made
   * (collections are made before their contents, so that is the top-level node).
   */
  private recordsPositions(): boolean {
    if (this.allPositions) return true;
    if (this.topNodeMade) return false;
    this.topNodeMade = true;
    return true;
  }

  /** The first line at or after `line` that has content (not blank, not only a comment). */
  private nextContent(line: number): number {
    while (line < this.starts.length && this.indents[line] === -1) line++;
    return line;
  }

  private skipSpaces(at: number, end: number): number {
    while (at < end && this.text.charCodeAt(at) === SPACE) at++;
    return at;
  }

  /** Nothing but spaces and an optional comment from `at` to the end of its line. */
  private restIsEmpty(at: number, end: number): boolean {
    const next = this.skipSpaces(at, end);
    return next === end || (this.text.charCodeAt(next) === HASH && next > at);
  }

  /**
   * A node whose first character is at `offset` on `line`, inside a parent collection indented
   * `parentIndent`. Returns the value and the first line after it.
   */
  private blockNode(
    line: number,
    offset: number,
    parentIndent: number,
    depth: number,
    allowMapping = true,
  ): { value: unknown; next: number } {
    if (depth > maxDepth) throw giveUp;
    const text = this.text;
    const end = this.ends[line] as number;
    const column = offset - (this.starts[line] as number);
    const first = text.charCodeAt(offset);
    if (first === DASH && (offset + 1 === end || text.charCodeAt(offset + 1) === SPACE)) {
      return this.blockSequence(line, column, depth);
    }
    if (first === 38 /* & */ || first === 33 /* ! */)
      return this.withProperties(line, offset, parentIndent, depth);
    if (first === 124 /* | */ || first === 62 /* > */) {
      return this.blockScalar(line, offset, parentIndent);
    }
    if (first === 42 /* * */) {
      const { value, after } = this.alias(offset, end, depth);
      if (!this.restIsEmpty(after, end)) throw giveUp;
      return { value, next: this.afterScalar(line, parentIndent) };
    }
    if (first === 91 /* [ */ || first === 123 /* { */) {
      const { value, after } = this.flow(offset, end, depth);
      if (!this.restIsEmpty(after, end)) throw giveUp;
      return { value, next: this.afterScalar(line, parentIndent) };
    }
    // A scalar, or the first key of a block mapping.
    const scalar = this.inlineScalar(offset, end, true);
    if (scalar.isKey) {
      if (!allowMapping) throw giveUp;
      return this.blockMapping(line, column, depth);
    }
    if (!this.restIsEmpty(scalar.after, end)) throw giveUp;
    this.nodes++;
    return { value: scalar.value, next: this.afterScalar(line, parentIndent) };
  }

  /** After a one-line scalar: the next content line must not be more indented than the parent. */
  private afterScalar(line: number, parentIndent: number): number {
    const next = this.nextContent(line + 1);
    if (next < this.starts.length && (this.indents[next] as number) > parentIndent) throw giveUp;
    return next;
  }

  /** `&anchor` and `!reference` in front of a node. */
  private withProperties(
    line: number,
    offset: number,
    parentIndent: number,
    depth: number,
  ): { value: unknown; next: number } {
    const text = this.text;
    const end = this.ends[line] as number;
    let anchor: string | undefined;
    let reference = false;
    let at = offset;
    for (;;) {
      const char = text.charCodeAt(at);
      if (char === 38 && anchor === undefined) {
        const nameEnd = this.nameEnd(at + 1, end);
        anchor = text.slice(at + 1, nameEnd);
        at = nameEnd;
      } else if (char === 33 && !reference && text.startsWith("!reference", at)) {
        reference = true;
        at += "!reference".length;
      } else break;
      if (at < end && text.charCodeAt(at) !== SPACE) throw giveUp;
      at = this.skipSpaces(at, end);
    }
    const following = text.charCodeAt(at);
    if (anchor === "" || following === 38 || following === 33 || following === 42) throw giveUp;
    if (anchor !== undefined) this.pendingAnchors.add(anchor);
    const nodesBefore = this.nodes;
    let result: { value: unknown; next: number };
    if (reference) {
      if (text.charCodeAt(at) !== 91) throw giveUp;
      const { value, after } = this.flow(at, end, depth, false);
      if (!this.restIsEmpty(after, end)) throw giveUp;
      const position = this.allPositions ? this.source.lines.linePos(at) : undefined;
      result = {
        value: new ReferenceTag(
          value as unknown[],
          position && { file: this.source.name, line: position.line, column: position.col },
        ),
        next: this.afterScalar(line, parentIndent),
      };
    } else if (at >= end || text.charCodeAt(at) === HASH) {
      // The node starts on a later line.
      const next = this.nextContent(line + 1);
      const nextIndent = next < this.starts.length ? (this.indents[next] as number) : -1;
      if (nextIndent <= parentIndent) throw giveUp;
      result = this.blockNode(
        next,
        (this.starts[next] as number) + nextIndent,
        parentIndent,
        depth + 1,
      );
    } else {
      if (text.charCodeAt(at) === DASH && (at + 1 === end || text.charCodeAt(at + 1) === SPACE))
        throw giveUp;
      // `&a key: value` anchors the key, not a mapping: blockNode leaves that to the full path.
      result = this.blockNode(line, at, parentIndent, depth + 1, false);
    }
    if (anchor !== undefined) {
      this.pendingAnchors.delete(anchor);
      this.anchors.set(anchor, {
        value: result.value,
        size: Math.max(1, this.nodes - nodesBefore),
      });
    }
    return result;
  }

  private nameEnd(at: number, end: number): number {
    const text = this.text;
    while (at < end) {
      const char = text.charCodeAt(at);
      if (
        char === SPACE ||
        char === 44 ||
        char === 91 ||
        char === 93 ||
        char === 123 ||
        char === 125
      )
        break;
      at++;
    }
    return at;
  }

  private alias(offset: number, end: number, depth: number): { value: unknown; after: number } {
    const nameEnd = this.nameEnd(offset + 1, end);
    const name = this.text.slice(offset + 1, nameEnd);
    const anchored = this.anchors.get(name);
    if (!anchored || this.pendingAnchors.has(name)) throw giveUp;
    this.aliasNodes += anchored.size;
    if (this.aliasNodes > maxAliasNodes) throw giveUp;
    this.nodes += anchored.size;
    return { value: copyValue(anchored.value, depth), after: nameEnd };
  }

  private blockSequence(
    line: number,
    indent: number,
    depth: number,
  ): { value: unknown; next: number } {
    const list: unknown[] = [];
    if (this.recordsPositions())
      recordOffset(list, this.source, (this.starts[line] as number) + indent);
    this.nodes++;
    const text = this.text;
    for (;;) {
      const start = (this.starts[line] as number) + indent;
      const end = this.ends[line] as number;
      if (
        text.charCodeAt(start) !== DASH ||
        (start + 1 < end && text.charCodeAt(start + 1) !== SPACE)
      )
        throw giveUp;
      const content = this.skipSpaces(start + 1, end);
      let next: number;
      if (content >= end || (text.charCodeAt(content) === HASH && content > start + 1)) {
        next = this.nextContent(line + 1);
        if (next < this.starts.length && (this.indents[next] as number) > indent) {
          const nested = this.blockNode(
            next,
            (this.starts[next] as number) + (this.indents[next] as number),
            indent,
            depth + 1,
          );
          list.push(nested.value);
          next = nested.next;
        } else {
          this.nodes++;
          list.push(null);
        }
      } else {
        const nested = this.blockNode(line, content, indent, depth + 1);
        list.push(nested.value);
        next = nested.next;
      }
      if (next >= this.starts.length) return { value: list, next };
      const nextIndent = this.indents[next] as number;
      if (nextIndent > indent) throw giveUp;
      if (nextIndent < indent) return { value: list, next };
      const dash = (this.starts[next] as number) + indent;
      if (text.charCodeAt(dash) !== DASH) return { value: list, next };
      line = next;
    }
  }

  private blockMapping(
    line: number,
    indent: number,
    depth: number,
  ): { value: unknown; next: number } {
    const result: Record<string, unknown> = {};
    let offset = (this.starts[line] as number) + indent;
    const positioned = this.recordsPositions();
    if (positioned) recordOffset(result, this.source, offset);
    this.nodes++;
    const text = this.text;
    for (;;) {
      const end = this.ends[line] as number;
      const first = text.charCodeAt(offset);
      if (first === DASH && (offset + 1 === end || text.charCodeAt(offset + 1) === SPACE))
        throw giveUp;
      const key = this.inlineScalar(offset, end, true);
      if (!key.isKey) throw giveUp;
      this.nodes++;
      const valueStart = this.skipSpaces(key.after + 1, end);
      let value: unknown;
      let next: number;
      if (
        valueStart >= end ||
        (text.charCodeAt(valueStart) === HASH && valueStart > key.after + 1)
      ) {
        next = this.nextContent(line + 1);
        const nextIndent = next < this.starts.length ? (this.indents[next] as number) : -1;
        const nextStart = (this.starts[next] ?? 0) + nextIndent;
        if (
          nextIndent > indent ||
          (nextIndent === indent &&
            text.charCodeAt(nextStart) === DASH &&
            (nextStart + 1 === this.ends[next] || text.charCodeAt(nextStart + 1) === SPACE))
        ) {
          const nested = this.blockNode(next, nextStart, indent, depth + 1);
          value = nested.value;
          next = nested.next;
        } else {
          this.nodes++;
          value = null;
        }
      } else {
        const char = text.charCodeAt(valueStart);
        if (char === DASH && (valueStart + 1 === end || text.charCodeAt(valueStart + 1) === SPACE))
          throw giveUp;
        // `key: other: value` is an error: blockNode leaves it to the full path.
        const nested = this.blockNode(line, valueStart, indent, depth + 1, false);
        value = nested.value;
        next = nested.next;
      }
      if (key.value === mergeKey) {
        this.merge(result, value, positioned ? offset : -1);
      } else {
        this.putKey(result, key.value, value, positioned ? offset : -1);
      }
      if (next >= this.starts.length) return { value: result, next };
      const nextIndent = this.indents[next] as number;
      if (nextIndent > indent) throw giveUp;
      if (nextIndent < indent) return { value: result, next };
      line = next;
      offset = (this.starts[line] as number) + indent;
    }
  }

  /**
   * A key given twice keeps the later value, at the later place (as the full path does).
   * `keyOffset` -1: the key's position is not recorded.
   */
  private putKey(
    map: Record<string, unknown>,
    key: unknown,
    value: unknown,
    keyOffset: number,
  ): void {
    const name = keyName(key);
    if (name in map && name !== "__proto__") delete map[name];
    setKey(map, name, value);
    if (keyOffset >= 0) recordKeyOffset(map, name, this.source, keyOffset);
  }

  /** Psych's `<<`: each merged mapping overrides keys seen so far, in order. */
  private merge(result: Record<string, unknown>, value: unknown, keyOffset: number): void {
    const sources: unknown[] = Array.isArray(value) ? [...(value as unknown[])].reverse() : [value];
    const merged: Record<string, unknown> = {};
    for (const source of sources) {
      if (!isPlainObject(source)) throw giveUp;
      Object.assign(merged, source);
    }
    for (const [key, item] of Object.entries(merged)) {
      setKey(result, key, item);
      if (keyOffset >= 0) recordKeyOffset(result, key, this.source, keyOffset);
    }
  }

  /**
   * A plain or quoted scalar on one line from `offset`. In block context it may turn out to be
   * a mapping key (followed by `:` and a space or the end of the line).
   */
  private inlineScalar(
    offset: number,
    end: number,
    block: boolean,
  ): { value: unknown; after: number; isKey: boolean } {
    const text = this.text;
    const first = text.charCodeAt(offset);
    let value: unknown;
    let after: number;
    if (first === 39 /* ' */) {
      const close = this.singleQuoted(offset, end);
      value = close.value;
      after = close.after;
    } else if (first === 34 /* " */) {
      const close = this.doubleQuoted(offset, end);
      value = close.value;
      after = close.after;
    } else {
      if (!plainStarts(text, offset, end, block)) throw giveUp;
      let at = offset;
      let stop = end;
      while (at < end) {
        const char = text.charCodeAt(at);
        if (char === COLON) {
          const following = at + 1 < end ? text.charCodeAt(at + 1) : SPACE;
          if (following === SPACE || (!block && isFlowIndicator(following))) {
            stop = at;
            break;
          }
        } else if (char === HASH && text.charCodeAt(at - 1) === SPACE) {
          stop = at;
          break;
        } else if (!block && isFlowIndicator(char)) {
          stop = at;
          break;
        }
        at++;
      }
      let trimmed = stop;
      while (trimmed > offset && text.charCodeAt(trimmed - 1) === SPACE) trimmed--;
      const raw = text.slice(offset, trimmed);
      after = trimmed;
      const isKey = stop < end && text.charCodeAt(stop) === COLON;
      if (isKey) {
        if (trimmed !== stop) throw giveUp;
        return { value: resolvePlain(raw, true, this.keyCache), after: stop, isKey };
      }
      // A word is itself: no need to look it up.
      const value = mayBeSpecialStart(raw.charCodeAt(0))
        ? resolvePlain(raw, false, this.plainCache)
        : raw;
      return { value, after, isKey: false };
    }
    // A quoted scalar: a key when `:` follows.
    const colon = this.skipSpaces(after, end);
    if (colon < end && text.charCodeAt(colon) === COLON) {
      const following = colon + 1 < end ? text.charCodeAt(colon + 1) : SPACE;
      if (colon !== after || !(following === SPACE || (!block && isFlowIndicator(following))))
        throw giveUp;
      return { value, after: colon, isKey: true };
    }
    return { value, after, isKey: false };
  }

  private singleQuoted(offset: number, end: number): { value: string; after: number } {
    const text = this.text;
    let value = "";
    let from = offset + 1;
    for (;;) {
      const close = text.indexOf("'", from);
      if (close === -1 || close >= end) throw giveUp;
      value += text.slice(from, close);
      if (text.charCodeAt(close + 1) === 39) {
        value += "'";
        from = close + 2;
        continue;
      }
      return { value, after: close + 1 };
    }
  }

  private doubleQuoted(offset: number, end: number): { value: string; after: number } {
    const text = this.text;
    let value = "";
    let at = offset + 1;
    let from = at;
    while (at < end) {
      const char = text.charCodeAt(at);
      if (char === 34) return { value: value + text.slice(from, at), after: at + 1 };
      if (char === 92 /* \ */) {
        value += text.slice(from, at);
        const escape = text[at + 1];
        if (escape === undefined || at + 1 >= end) throw giveUp;
        const simple = doubleQuoteEscapes[escape];
        if (simple !== undefined) {
          value += simple;
          at += 2;
        } else {
          const digits = escape === "x" ? 2 : escape === "u" ? 4 : escape === "U" ? 8 : 0;
          if (digits === 0) throw giveUp;
          const hex = text.slice(at + 2, at + 2 + digits);
          if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex) || at + 2 + digits > end)
            throw giveUp;
          const code = parseInt(hex, 16);
          if (code > 0x10ffff) throw giveUp;
          value += String.fromCodePoint(code);
          at += 2 + digits;
        }
        from = at;
        continue;
      }
      at++;
    }
    throw giveUp;
  }

  /** `[..]` or `{..}` closed on the same line. */
  private flow(
    offset: number,
    end: number,
    depth: number,
    positioned = true,
  ): { value: unknown; after: number } {
    if (depth > maxDepth) throw giveUp;
    const text = this.text;
    const isSequence = text.charCodeAt(offset) === 91;
    const close = isSequence ? 93 : 125;
    const list: unknown[] = [];
    const map: Record<string, unknown> = {};
    const node = isSequence ? list : map;
    const keysPositioned = positioned && this.recordsPositions();
    if (keysPositioned) recordOffset(node, this.source, offset);
    this.nodes++;
    let at = this.skipSpaces(offset + 1, end);
    let expectItem = true;
    for (;;) {
      if (at >= end) throw giveUp;
      const char = text.charCodeAt(at);
      if (char === close) return { value: node, after: at + 1 };
      if (char === 44 /* , */) {
        if (expectItem) throw giveUp;
        expectItem = true;
        at = this.skipSpaces(at + 1, end);
        continue;
      }
      if (!expectItem) throw giveUp;
      expectItem = false;
      const keyOffset = at;
      let item: unknown;
      let isKey = false;
      if (char === 91 || char === 123) {
        const nested = this.flow(at, end, depth + 1);
        item = nested.value;
        at = nested.after;
      } else if (char === 42) {
        const alias = this.alias(at, end, depth + 1);
        item = alias.value;
        at = alias.after;
      } else {
        const scalar = this.inlineScalar(at, end, false);
        this.nodes++;
        item = scalar.value;
        isKey = scalar.isKey;
        at = scalar.after;
      }
      at = this.skipSpaces(at, end);
      if (isSequence) {
        if (isKey) throw giveUp;
        list.push(item);
        continue;
      }
      if (typeof item === "object" && item !== null) throw giveUp;
      let value: unknown = null;
      if (isKey) {
        at = this.skipSpaces(at + 1, end);
        const next = text.charCodeAt(at);
        if (next === 44 || next === close) {
          this.nodes++;
        } else if (next === 91 || next === 123) {
          const nested = this.flow(at, end, depth + 1);
          value = nested.value;
          at = this.skipSpaces(nested.after, end);
        } else if (next === 42) {
          const alias = this.alias(at, end, depth + 1);
          value = alias.value;
          at = this.skipSpaces(alias.after, end);
        } else {
          const scalar = this.inlineScalar(at, end, false);
          if (scalar.isKey) throw giveUp;
          this.nodes++;
          value = scalar.value;
          at = this.skipSpaces(scalar.after, end);
        }
      }
      if (item === mergeKey) throw giveUp;
      this.putKey(map, item, value, keysPositioned ? keyOffset : -1);
    }
  }

  /** `|` and `>` with their chomping and indentation indicators (`+` is left to the full path). */
  private blockScalar(
    line: number,
    offset: number,
    parentIndent: number,
  ): { value: unknown; next: number } {
    const text = this.text;
    const end = this.ends[line] as number;
    const folded = text.charCodeAt(offset) === 62;
    let at = offset + 1;
    let chomp = "";
    let explicit = 0;
    while (at < end && text.charCodeAt(at) !== SPACE) {
      const char = text[at] as string;
      if (!chomp && (char === "-" || char === "+")) chomp = char;
      else if (!explicit && char >= "1" && char <= "9") explicit = Number(char);
      else throw giveUp;
      at++;
    }
    // Explicit indentation and keeping trailing lines are rare: the full path reads them.
    if (chomp === "+" || explicit !== 0 || !this.restIsEmpty(at, end)) throw giveUp;
    let trimIndent = 0;
    // The lines of the scalar: blank ones, and ones indented at least as much as the first.
    const first = line + 1;
    let last = first;
    const count = this.starts.length;
    for (; last < count; last++) {
      const start = this.starts[last] as number;
      const lineEnd = this.ends[last] as number;
      const spaces = this.skipSpaces(start, lineEnd) - start;
      if (start + spaces === lineEnd) continue;
      if (trimIndent === 0) {
        if (spaces <= parentIndent) break;
        trimIndent = spaces;
      } else if (spaces < trimIndent) break;
    }
    // Trailing blank lines are not part of the content.
    let contentEnd = last;
    while (contentEnd > first && this.isBlank(contentEnd - 1)) contentEnd--;
    if (trimIndent === 0 || contentEnd === first) throw giveUp;
    for (let blank = contentEnd; blank < last; blank++) {
      if ((this.ends[blank] as number) - (this.starts[blank] as number) > trimIndent) throw giveUp;
    }
    let value = "";
    let separator = "";
    let previousMoreIndented = false;
    let seenContent = false;
    for (let index = first; index < contentEnd; index++) {
      const start = this.starts[index] as number;
      const lineEnd = this.ends[index] as number;
      const spaces = this.skipSpaces(start, lineEnd) - start;
      const blank = start + spaces === lineEnd;
      if (!seenContent) {
        if (blank) {
          if (spaces > trimIndent) throw giveUp;
          value += "\n";
          continue;
        }
        seenContent = true;
      }
      const indent = text.slice(start, start + spaces);
      const content = text.slice(start + spaces, lineEnd);
      if (!folded) {
        value += separator + indent.slice(trimIndent) + content;
        separator = "\n";
      } else if (spaces > trimIndent) {
        if (separator === " ") separator = "\n";
        else if (!previousMoreIndented && separator === "\n") separator = "\n\n";
        value += separator + indent.slice(trimIndent) + content;
        separator = "\n";
        previousMoreIndented = true;
      } else if (content === "") {
        if (separator === "\n") value += "\n";
        else separator = "\n";
      } else {
        value += separator + content;
        separator = " ";
        previousMoreIndented = false;
      }
    }
    if (chomp !== "-") value += "\n";
    this.nodes++;
    const next = this.nextContent(last);
    if (next < count && (this.indents[next] as number) > parentIndent) throw giveUp;
    return { value, next };
  }

  private isBlank(line: number): boolean {
    const start = this.starts[line] as number;
    const end = this.ends[line] as number;
    return this.skipSpaces(start, end) === end;
  }
}

const doubleQuoteEscapes: Record<string, string> = {
  "0": "\0",
  a: "\x07",
  b: "\b",
  e: "\x1b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  N: "\u0085",
  _: "\u00a0",
  L: "\u2028",
  P: "\u2029",
  " ": " ",
  '"': '"',
  "/": "/",
  "\\": "\\",
  "\t": "\t",
};

/** `---` or `...` at `start`, alone or followed by a space. */
function isDocumentMarker(text: string, start: number, end: number): boolean {
  const first = text.charCodeAt(start);
  if (first !== DASH && first !== 46 /* . */) return false;
  if (!text.startsWith(first === DASH ? "---" : "...", start)) return false;
  return start + 3 >= end || text.charCodeAt(start + 3) === SPACE;
}

function isFlowIndicator(char: number): boolean {
  return char === 44 || char === 91 || char === 93 || char === 123 || char === 125;
}

/** Whether a plain scalar may start at `offset` (YAML's ns-plain-first). */
function plainStarts(text: string, offset: number, end: number, block: boolean): boolean {
  if (offset >= end) return false;
  const char = text.charCodeAt(offset);
  switch (char) {
    case 45: // -
    case 63: // ?
    case 58: {
      // :
      const next = offset + 1 < end ? text.charCodeAt(offset + 1) : SPACE;
      return next !== SPACE && !(char === 63) && (block || !isFlowIndicator(next));
    }
    case 44:
    case 91:
    case 93:
    case 123:
    case 125:
    case 35:
    case 38:
    case 42:
    case 33:
    case 124:
    case 62:
    case 39:
    case 34:
    case 37:
    case 64:
    case 96:
      return false;
    default:
      return true;
  }
}

function keyName(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw giveUp;
}

/** Each alias is a fresh copy of its anchor's value, with the same positions, like the full path. */
function copyValue(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > maxDepth) throw giveUp;
  if (value instanceof ReferenceTag) {
    return new ReferenceTag(
      value.path.map((item) => copyValue(item, depth + 1)),
      value.position,
    );
  }
  if (Array.isArray(value)) {
    const list = value.map((item) => copyValue(item, depth + 1));
    copyNodePositions(value, list);
    return list;
  }
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) setKey(result, key, copyValue(item, depth + 1));
  copyNodePositions(value, result);
  return result;
}
