import { Buffer } from "node:buffer";
import { copyNodePositions, recordKeyOffset, recordOffset } from "./source-map.ts";
import { LineIndex, type LineRecorder } from "./line-index.ts";
import { isPlainObject, setKey } from "./plain-object.ts";
import { ReferenceTag } from "./reference-tag.ts";
import { mayBeSpecial, mergeKey, resolveYaml11Plain } from "./yaml-scalars.ts";

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
 *
 * `referenceFree` collects the mappings and sequences read that hold no `!reference` at any
 * depth, for resolveReferences to skip (a read that gives up may leave some there: unused).
 */
export function readPipelineYaml(
  text: string,
  source: { name: string; lines: LineRecorder },
  positions: PositionDetail = "all",
  referenceFree?: Set<object>,
): { body: unknown } | undefined {
  try {
    return { body: readDocument(text, source, positions === "all", referenceFree) };
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

/** Where a plain scalar ends in block context: `:` before a space or line break, ` #`, a line break. */
const blockPlainStop = /:(?=[ \n])| #|\n/g;
/** … and in a flow collection, where `,[]{}` end it too. */
const flowPlainStop = /:(?=[ \n,[\]{}])|[,[\]{}]| #|\n/g;
/** The end of a double-quoted scalar's plain run: the quote, a backslash or a line break. */
const doubleQuotedStop = /["\\\n]/g;

const SPACE = 32;
const HASH = 35;
const COLON = 58;
const DASH = 45;

/**
 * A mapping's line read before: its key, its value unless that follows on later lines (a scalar,
 * or a flow list of scalars without positions), and how many nodes the line made.
 */
interface KnownEntry {
  key: unknown;
  value: unknown;
  valueFollows: boolean;
  nodes: number;
}

interface Anchored {
  value: unknown;
  size: number;
}

/**
 * The reader: one function whose state lives in local variables shared by its inner functions.
 * A file is read once, mostly by unoptimised code, where reading a variable of the enclosing
 * function costs far less than a property of an object (`this.text`) or a method lookup.
 */
function readDocument(
  text: string,
  source: { name: string; lines: LineRecorder },
  allPositions: boolean,
  referenceFree: Set<object> | undefined,
): unknown {
  if (text.includes("\t") || text.includes("\r") || text.charCodeAt(0) === 0xfeff) throw giveUp;
  /** `text` ending with a line break, for the stop patterns (which then always match). */
  const scanText = text.endsWith("\n") ? text : `${text}\n`;
  const codes = charCodes(text);
  const { starts, ends, indents, markers } = scanLines(text, codes, source.lines);
  const lineCount = starts.length;
  const anchors = new Map<string, Anchored>();
  /** Resolved plain scalars: values repeat (for this file only, so nothing outlives it). */
  const plainCache = new Map<string, unknown>();
  const keyCache = new Map<string, unknown>();
  /** Anchors whose node is being read: an alias to one of them is left to the full path. */
  const pendingAnchors = new Set<string>();
  let aliasNodes = 0;
  /** Nodes made by the value being read, for anchors' sizes. */
  let nodes = 0;
  /** With allPositions false, only the top-level mapping's keys get positions ("top-keys"). */
  let topNodeMade = false;
  /** `!reference` tags made so far, copies included: tells which collections hold none. */
  let references = 0;
  /*
   * Where the last read ended, set by the readers instead of returning a small object for
   * each node (the unoptimised code that runs a file's first read pays for every allocation):
   * `followingLine`, the first line after a block node; `followingOffset`, the offset after an
   * inline one; `wasKey`, whether the inline scalar was a mapping key.
   */
  let followingLine = 0;
  let followingOffset = 0;
  let wasKey = false;
  /*
   * Lines read before, from the key or item on (pipelines repeat most lines: `stage: test`,
   * `when: manual`, `- npm ci`): one slice and one lookup instead of reading them again. Only
   * lines whose value is a scalar on the line itself (no anchor, alias or tag) or follows on
   * later lines: those read the same wherever they are.
   */
  const knownEntries = new Map<string, KnownEntry>();
  const knownItems = new Map<string, unknown>();

  return document();

  function document(): unknown {
    let line = nextContent(0);
    if (markers[0] === line && text.startsWith("---", starts[line])) {
      const start = starts[line] as number;
      if (!restIsEmpty(start + 3, ends[line] as number)) throw giveUp;
      line = nextContent(line + 1);
      if (markers.length > 1) throw giveUp;
    } else if (markers.length > 0) throw giveUp;
    if (line >= lineCount) return null;
    const indent = indents[line] as number;
    const value = blockNode(line, (starts[line] as number) + indent, -1, 0, true);
    if (followingLine < lineCount) throw giveUp;
    return value;
  }

  /**
   * Whether the collection being made gets positions: every one, or only the first one made
   * (collections are made before their contents, so that is the top-level node).
   */
  function recordsPositions(): boolean {
    if (allPositions) return true;
    if (topNodeMade) return false;
    topNodeMade = true;
    return true;
  }

  /** The first line at or after `line` that has content (not blank, not only a comment). */
  function nextContent(line: number): number {
    while (indents[line] === -1) line++;
    return line;
  }

  function skipSpaces(at: number, end: number): number {
    while (at < end && codes[at] === SPACE) at++;
    return at;
  }

  /** Nothing but spaces and an optional comment from `at` to the end of its line. */
  function restIsEmpty(at: number, end: number): boolean {
    if (at === end) return true;
    const next = skipSpaces(at, end);
    return next === end || (codes[next] === HASH && next > at);
  }

  /**
   * A node whose first character is at `offset` on `line`, inside a parent collection indented
   * `parentIndent`. Returns the value; `next` is the first line after it.
   */
  function blockNode(
    line: number,
    offset: number,
    parentIndent: number,
    depth: number,
    allowMapping: boolean,
  ): unknown {
    if (depth > maxDepth) throw giveUp;
    const end = ends[line] as number;
    const first = codes[offset];
    if (first === DASH && (offset + 1 === end || codes[offset + 1] === SPACE)) {
      return blockSequence(line, offset - (starts[line] as number), depth);
    }
    if (first === 38 /* & */ || first === 33 /* ! */)
      return withProperties(line, offset, parentIndent, depth);
    if (first === 124 /* | */ || first === 62 /* > */) {
      return blockScalar(line, offset, parentIndent);
    }
    let value: unknown;
    if (first === 42 /* * */) value = alias(offset, end, depth);
    else if (first === 91 /* [ */ || first === 123 /* { */) value = flow(offset, end, depth);
    else {
      // A scalar, or the first key of a block mapping.
      value = inlineScalar(offset, end, true);
      if (wasKey) {
        if (!allowMapping) throw giveUp;
        return blockMapping(line, offset - (starts[line] as number), depth);
      }
      nodes++;
    }
    if (followingOffset !== end && !restIsEmpty(followingOffset, end)) throw giveUp;
    followingLine = afterScalar(line, parentIndent);
    return value;
  }

  /** After a one-line scalar: the next content line must not be more indented than the parent. */
  function afterScalar(line: number, parentIndent: number): number {
    let next = line + 1;
    while (indents[next] === -1) next++;
    if (next < lineCount && (indents[next] as number) > parentIndent) throw giveUp;
    return next;
  }

  /** `&anchor` and `!reference` in front of a node. */
  function withProperties(
    line: number,
    offset: number,
    parentIndent: number,
    depth: number,
  ): unknown {
    const end = ends[line] as number;
    let anchor: string | undefined;
    let reference = false;
    let at = offset;
    for (;;) {
      const char = codes[at];
      if (char === 38 && anchor === undefined) {
        const nameEnd = endOfName(at + 1, end);
        anchor = text.slice(at + 1, nameEnd);
        at = nameEnd;
      } else if (char === 33 && !reference && text.startsWith("!reference", at)) {
        reference = true;
        at += "!reference".length;
      } else break;
      if (at < end && codes[at] !== SPACE) throw giveUp;
      at = skipSpaces(at, end);
    }
    const following = codes[at];
    if (anchor === "" || following === 38 || following === 33 || following === 42) throw giveUp;
    if (anchor !== undefined) pendingAnchors.add(anchor);
    const nodesBefore = nodes;
    let value: unknown;
    if (reference) {
      if (codes[at] !== 91) throw giveUp;
      const path = flow(at, end, depth, false);
      if (!restIsEmpty(followingOffset, end)) throw giveUp;
      const position = allPositions ? source.lines.linePos(at) : undefined;
      references++;
      value = new ReferenceTag(
        path as unknown[],
        position && { file: source.name, line: position.line, column: position.col },
      );
      followingLine = afterScalar(line, parentIndent);
    } else if (at >= end || codes[at] === HASH) {
      // The node starts on a later line.
      const next = nextContent(line + 1);
      const nextIndent = next < lineCount ? (indents[next] as number) : -1;
      if (nextIndent <= parentIndent) throw giveUp;
      value = blockNode(next, (starts[next] as number) + nextIndent, parentIndent, depth + 1, true);
    } else {
      if (codes[at] === DASH && (at + 1 === end || codes[at + 1] === SPACE)) throw giveUp;
      // `&a key: value` anchors the key, not a mapping: blockNode leaves that to the full path.
      value = blockNode(line, at, parentIndent, depth + 1, false);
    }
    if (anchor !== undefined) {
      pendingAnchors.delete(anchor);
      anchors.set(anchor, { value, size: Math.max(1, nodes - nodesBefore) });
    }
    return value;
  }

  function endOfName(at: number, end: number): number {
    while (at < end) {
      const char = codes[at];
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

  /** `*name`: a copy of the anchored value; `after` is the offset after the name. */
  function alias(offset: number, end: number, depth: number): unknown {
    const nameEnd = endOfName(offset + 1, end);
    const name = text.slice(offset + 1, nameEnd);
    const anchored = anchors.get(name);
    if (!anchored || pendingAnchors.has(name)) throw giveUp;
    aliasNodes += anchored.size;
    if (aliasNodes > maxAliasNodes) throw giveUp;
    nodes += anchored.size;
    followingOffset = nameEnd;
    const value = anchored.value;
    const copy = copyValue(value, depth);
    if (typeof value === "object" && value !== null) {
      if (!referenceFree?.has(value)) references++;
      else referenceFree.add(copy as object);
    }
    return copy;
  }

  /** A collection is read: recorded as free of `!reference` when no tag was made in it. */
  function finished<T extends object>(node: T, referencesBefore: number): T {
    if (referenceFree !== undefined && references === referencesBefore) referenceFree.add(node);
    return node;
  }

  function blockSequence(line: number, indent: number, depth: number): unknown[] {
    const referencesBefore = references;
    const list: unknown[] = [];
    if (recordsPositions()) recordOffset(list, source, (starts[line] as number) + indent);
    nodes++;
    for (;;) {
      const start = (starts[line] as number) + indent;
      const end = ends[line] as number;
      if (codes[start] !== DASH || (start + 1 < end && codes[start + 1] !== SPACE)) throw giveUp;
      const content = skipSpaces(start + 1, end);
      let next: number;
      if (content >= end || (codes[content] === HASH && content > start + 1)) {
        next = nextContent(line + 1);
        if (next < lineCount && (indents[next] as number) > indent) {
          list.push(
            blockNode(
              next,
              (starts[next] as number) + (indents[next] as number),
              indent,
              depth + 1,
              true,
            ),
          );
          next = followingLine;
        } else {
          nodes++;
          list.push(null);
        }
      } else {
        const itemText = text.slice(content, end);
        let item = depth < maxDepth ? knownItems.get(itemText) : undefined;
        if (item !== undefined) {
          nodes++;
          next = nextContent(line + 1);
        } else {
          item = blockNode(line, content, indent, depth + 1, true);
          next = followingLine;
          if ((typeof item !== "object" || item === null) && startsScalar(codes[content] as number))
            knownItems.set(itemText, item);
        }
        list.push(item);
      }
      followingLine = next;
      if (next >= lineCount) return finished(list, referencesBefore);
      const nextIndent = indents[next] as number;
      if (nextIndent > indent) throw giveUp;
      if (nextIndent < indent || codes[(starts[next] as number) + indent] !== DASH)
        return finished(list, referencesBefore);
      line = next;
    }
  }

  function blockMapping(line: number, indent: number, depth: number): Record<string, unknown> {
    const referencesBefore = references;
    const result: Record<string, unknown> = {};
    let offset = (starts[line] as number) + indent;
    const positioned = recordsPositions();
    if (positioned) recordOffset(result, source, offset);
    nodes++;
    // The top level's lines (jobs' names) are each written once: not worth remembering. (Not
    // at the deepest level either, where a value is too deep for this reader.)
    const remembers = depth > 0 && depth < maxDepth;
    for (;;) {
      const end = ends[line] as number;
      const entryText = remembers ? text.slice(offset, end) : "";
      const known = remembers ? knownEntries.get(entryText) : undefined;
      let key: unknown;
      let value: unknown = null;
      let next = 0;
      let valueFollows: boolean;
      if (known !== undefined) {
        key = known.key;
        valueFollows = known.valueFollows;
        nodes += known.nodes;
        if (!valueFollows) {
          value = known.value;
          // A list is copied (natively: `slice`), as each read makes its own.
          if (Array.isArray(value)) value = finished(value.slice(), references);
          next = nextContent(line + 1);
        }
      } else {
        const first = codes[offset];
        if (first === DASH && (offset + 1 === end || codes[offset + 1] === SPACE)) throw giveUp;
        key = inlineScalar(offset, end, true);
        if (!wasKey) throw giveUp;
        nodes++;
        const colon = followingOffset;
        // Stops at the line's end: `codes` has a line break there.
        let valueStart = colon + 1;
        while (codes[valueStart] === SPACE) valueStart++;
        valueFollows = valueStart >= end || (codes[valueStart] === HASH && valueStart > colon + 1);
        if (!valueFollows) {
          const char = codes[valueStart] as number;
          if (char === DASH && (valueStart + 1 === end || codes[valueStart + 1] === SPACE))
            throw giveUp;
          const nodesBefore = nodes;
          const aliasesBefore = aliasNodes;
          // `key: other: value` is an error: blockNode leaves it to the full path.
          value = blockNode(line, valueStart, indent, depth + 1, false);
          next = followingLine;
          if (
            remembers &&
            key !== mergeKey &&
            (startsScalar(char) ||
              (char === 91 && !allPositions && aliasNodes === aliasesBefore && isScalarList(value)))
          )
            knownEntries.set(entryText, {
              key,
              value,
              valueFollows,
              nodes: 1 + nodes - nodesBefore,
            });
        } else if (remembers && key !== mergeKey) {
          knownEntries.set(entryText, { key, value: null, valueFollows, nodes: 1 });
        }
      }
      if (valueFollows) {
        next = nextContent(line + 1);
        const nextIndent = next < lineCount ? (indents[next] as number) : -1;
        const nextStart = (starts[next] ?? 0) + nextIndent;
        if (
          nextIndent > indent ||
          (nextIndent === indent &&
            codes[nextStart] === DASH &&
            (nextStart + 1 === ends[next] || codes[nextStart + 1] === SPACE))
        ) {
          value = blockNode(next, nextStart, indent, depth + 1, true);
          next = followingLine;
        } else {
          nodes++;
          value = null;
        }
      }
      if (key === mergeKey) merge(result, value, positioned ? offset : -1);
      else putKey(result, key, value, positioned ? offset : -1);
      followingLine = next;
      if (next >= lineCount) return finished(result, referencesBefore);
      const nextIndent = indents[next] as number;
      if (nextIndent > indent) throw giveUp;
      if (nextIndent < indent) return finished(result, referencesBefore);
      line = next;
      offset = (starts[line] as number) + indent;
    }
  }

  /**
   * A key given twice keeps the later value, at the later place (as the full path does).
   * `keyOffset` -1: the key's position is not recorded.
   */
  function putKey(
    map: Record<string, unknown>,
    key: unknown,
    value: unknown,
    keyOffset: number,
  ): void {
    const name = typeof key === "string" ? key : keyName(key);
    if (name === "__proto__") setKey(map, name, value);
    else {
      if (Object.hasOwn(map, name)) delete map[name];
      map[name] = value;
    }
    if (keyOffset >= 0) recordKeyOffset(map, name, source, keyOffset);
  }

  /** Psych's `<<`: each merged mapping overrides keys seen so far, in order. */
  function merge(result: Record<string, unknown>, value: unknown, keyOffset: number): void {
    const sources: unknown[] = Array.isArray(value) ? value : [value];
    const merged: Record<string, unknown> = {};
    for (let index = sources.length - 1; index >= 0; index--) {
      const source = sources[index];
      if (!isPlainObject(source)) throw giveUp;
      Object.assign(merged, source);
    }
    const keys = Object.keys(merged);
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      setKey(result, key, merged[key]);
      if (keyOffset >= 0) recordKeyOffset(result, key, source, keyOffset);
    }
  }

  /**
   * A plain or quoted scalar on one line from `offset`. In block context it may turn out to be
   * a mapping key (followed by `:` and a space or the end of the line): then `isKey` is set and
   * `after` is the colon's offset.
   */
  function inlineScalar(offset: number, end: number, block: boolean): unknown {
    // Within the text: the callers read scalars where the line has content.
    const first = codes[offset] as number;
    let value: string;
    if (first === 39 /* ' */) value = singleQuoted(offset, end);
    else if (first === 34 /* " */) value = doubleQuoted(offset, end);
    else {
      if (offset >= end) throw giveUp;
      const kind = first < 128 ? (firstCharKinds[first] as number) : startsPlain;
      if (
        (kind & startsPlain) === 0 &&
        !(kind & checkNext && plainStarts(text, offset, end, block))
      )
        throw giveUp;
      // The pattern finds the stop in compiled code, not a character loop; it always matches
      // (scanText ends with a line break).
      const stops = block ? blockPlainStop : flowPlainStop;
      stops.lastIndex = offset;
      stops.test(scanText);
      const stop = stops.lastIndex - 1;
      let trimmed = stop;
      while (codes[trimmed - 1] === SPACE) trimmed--;
      const raw = text.slice(offset, trimmed);
      if (stop < end && codes[stop] === COLON) {
        if (trimmed !== stop) throw giveUp;
        followingOffset = stop;
        wasKey = true;
        return mayBeSpecialPlain(kind, raw) ? resolvePlain(raw, true, keyCache) : raw;
      }
      followingOffset = trimmed;
      wasKey = false;
      // Most scalars are words, which are themselves: no need to look them up.
      return mayBeSpecialPlain(kind, raw) ? resolvePlain(raw, false, plainCache) : raw;
    }
    // A quoted scalar: a key when `:` follows.
    const after = followingOffset;
    const colon = skipSpaces(after, end);
    if (colon < end && codes[colon] === COLON) {
      const following = colon + 1 < end ? (codes[colon + 1] as number) : SPACE;
      if (colon !== after || !(following === SPACE || (!block && isFlowIndicator(following))))
        throw giveUp;
      followingOffset = colon;
      wasKey = true;
      return value;
    }
    wasKey = false;
    return value;
  }

  /** `'…'` on one line; `after` is the offset after the closing quote. */
  function singleQuoted(offset: number, end: number): string {
    let value = "";
    let from = offset + 1;
    for (;;) {
      const close = text.indexOf("'", from);
      if (close === -1 || close >= end) throw giveUp;
      value += text.slice(from, close);
      if (codes[close + 1] === 39) {
        value += "'";
        from = close + 2;
        continue;
      }
      followingOffset = close + 1;
      return value;
    }
  }

  /** `"…"` on one line; `after` is the offset after the closing quote. */
  function doubleQuoted(offset: number, end: number): string {
    let value = "";
    let at = offset + 1;
    let from = at;
    for (;;) {
      // The next quote or backslash, found by compiled code.
      doubleQuotedStop.lastIndex = at;
      doubleQuotedStop.test(scanText);
      at = doubleQuotedStop.lastIndex - 1;
      if (at >= end) throw giveUp;
      if (codes[at] === 34) {
        followingOffset = at + 1;
        return value + text.slice(from, at);
      }
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
    }
  }

  /** `[..]` or `{..}` closed on the same line; `after` is the offset after it. */
  function flow(offset: number, end: number, depth: number, positioned = true): unknown {
    if (depth > maxDepth) throw giveUp;
    const referencesBefore = references;
    const isSequence = codes[offset] === 91;
    const close = isSequence ? 93 : 125;
    // Only the collection being read is made (allocations are what cold code pays most for).
    const list: unknown[] | undefined = isSequence ? [] : undefined;
    const map: Record<string, unknown> | undefined = isSequence ? undefined : {};
    const node = (list ?? map) as object;
    const keysPositioned = positioned && recordsPositions();
    if (keysPositioned) recordOffset(node, source, offset);
    nodes++;
    let at = skipSpaces(offset + 1, end);
    let expectItem = true;
    for (;;) {
      if (at >= end) throw giveUp;
      const char = codes[at];
      if (char === close) {
        followingOffset = at + 1;
        return finished(node, referencesBefore);
      }
      if (char === 44 /* , */) {
        if (expectItem) throw giveUp;
        expectItem = true;
        at = skipSpaces(at + 1, end);
        continue;
      }
      if (!expectItem) throw giveUp;
      expectItem = false;
      const keyOffset = at;
      let item: unknown;
      let isKey = false;
      if (char === 91 || char === 123) item = flow(at, end, depth + 1);
      else if (char === 42) item = alias(at, end, depth + 1);
      else {
        item = inlineScalar(at, end, false);
        nodes++;
        isKey = wasKey;
      }
      at = skipSpaces(followingOffset, end);
      if (list !== undefined) {
        if (isKey) throw giveUp;
        list.push(item);
        continue;
      }
      if (typeof item === "object" && item !== null) throw giveUp;
      let value: unknown = null;
      if (isKey) {
        at = skipSpaces(at + 1, end);
        const next = codes[at];
        if (next === 44 || next === close) {
          nodes++;
        } else {
          if (next === 91 || next === 123) value = flow(at, end, depth + 1);
          else if (next === 42) value = alias(at, end, depth + 1);
          else {
            value = inlineScalar(at, end, false);
            if (wasKey) throw giveUp;
            nodes++;
          }
          at = skipSpaces(followingOffset, end);
        }
      }
      if (item === mergeKey) throw giveUp;
      putKey(map as Record<string, unknown>, item, value, keysPositioned ? keyOffset : -1);
    }
  }

  /** `|` and `>` with their chomping and indentation indicators (`+` is left to the full path). */
  function blockScalar(line: number, offset: number, parentIndent: number): string {
    const end = ends[line] as number;
    const folded = codes[offset] === 62;
    let at = offset + 1;
    let chomp = "";
    let explicit = 0;
    while (at < end && codes[at] !== SPACE) {
      const char = text[at] as string;
      if (!chomp && (char === "-" || char === "+")) chomp = char;
      else if (!explicit && char >= "1" && char <= "9") explicit = Number(char);
      else throw giveUp;
      at++;
    }
    // Explicit indentation and keeping trailing lines are rare: the full path reads them.
    if (chomp === "+" || explicit !== 0 || !restIsEmpty(at, end)) throw giveUp;
    let trimIndent = 0;
    // The lines of the scalar: blank ones, and ones indented at least as much as the first.
    const first = line + 1;
    let last = first;
    for (; last < lineCount; last++) {
      const start = starts[last] as number;
      const lineEnd = ends[last] as number;
      const spaces = skipSpaces(start, lineEnd) - start;
      if (start + spaces === lineEnd) continue;
      if (trimIndent === 0) {
        if (spaces <= parentIndent) break;
        trimIndent = spaces;
      } else if (spaces < trimIndent) break;
    }
    // Trailing blank lines are not part of the content.
    let contentEnd = last;
    while (contentEnd > first && isBlank(contentEnd - 1)) contentEnd--;
    if (trimIndent === 0 || contentEnd === first) throw giveUp;
    for (let blank = contentEnd; blank < last; blank++) {
      if ((ends[blank] as number) - (starts[blank] as number) > trimIndent) throw giveUp;
    }
    let value = "";
    let separator = "";
    let previousMoreIndented = false;
    let seenContent = false;
    for (let index = first; index < contentEnd; index++) {
      const start = starts[index] as number;
      const lineEnd = ends[index] as number;
      const spaces = skipSpaces(start, lineEnd) - start;
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
    nodes++;
    const next = nextContent(last);
    if (next < lineCount && (indents[next] as number) > parentIndent) throw giveUp;
    followingLine = next;
    return value;
  }

  function isBlank(line: number): boolean {
    const start = starts[line] as number;
    const end = ends[line] as number;
    return skipSpaces(start, end) === end;
  }
}

/**
 * A text's UTF-16 code units. Reading one by index costs unoptimised code far less than a
 * `charCodeAt` call. One more unit than the text, a line break, so that looking at the character
 * after the last one needs no bounds check.
 */
function charCodes(text: string): Uint16Array {
  const length = text.length;
  if (littleEndian) {
    // Written into a buffer of its own (off the V8 heap, 2-aligned): `text + "\n"` would be
    // flattened into a copy on the heap first.
    const bytes = Buffer.allocUnsafeSlow(2 * length + 2);
    bytes.write(text, 0, "utf16le");
    const codes = new Uint16Array(bytes.buffer, bytes.byteOffset, length + 1);
    codes[length] = 10;
    return codes;
  }
  const codes = new Uint16Array(length + 1);
  for (let index = 0; index < length; index++) codes[index] = text.charCodeAt(index);
  codes[length] = 10;
  return codes;
}

const littleEndian = new Uint16Array(new Uint8Array([1, 0]).buffer)[0] === 1;

/**
 * One pass over the lines: where each starts and ends (its `\n` or the text's end), its
 * indentation (-1 for blank and comment-only lines), which are document markers (`---`, `...`).
 * Typed arrays sized once: growing arrays and the copies scavenges make of them cost more than
 * counting the lines first.
 */
function scanLines(
  text: string,
  codes: Uint16Array,
  lines: LineRecorder,
): { starts: Int32Array; ends: Int32Array; indents: Int32Array; markers: number[] } {
  const length = text.length;
  let count = 1;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++;
  const starts = new Int32Array(count);
  const ends = new Int32Array(count);
  const indents = new Int32Array(count);
  const markers: number[] = [];
  let start = 0;
  for (let line = 0; line < count; line++) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = length;
    let at = start;
    while (codes[at] === SPACE) at++;
    if (at === end || codes[at] === HASH) indents[line] = -1;
    else {
      indents[line] = at - start;
      if (at === start && isDocumentMarker(text, start, end)) markers.push(line);
    }
    starts[line] = start;
    ends[line] = end;
    start = end + 1;
  }
  if (lines instanceof LineIndex) lines.addLineStarts(starts);
  else for (let line = 0; line < count; line++) lines.addNewLine(starts[line] as number);
  return { starts, ends, indents, markers };
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

/**
 * Whether a node starting with `char` is a scalar on its line: no anchor, alias, tag, collection
 * or block scalar.
 */
function startsScalar(char: number): boolean {
  return (
    char !== 38 /* & */ &&
    char !== 42 /* * */ &&
    char !== 33 /* ! */ &&
    char !== 124 /* | */ &&
    char !== 62 /* > */ &&
    char !== 91 /* [ */ &&
    char !== 123 /* { */ &&
    char !== DASH
  );
}

function isScalarList(value: unknown): boolean {
  if (!Array.isArray(value)) return false;
  for (let index = 0; index < value.length; index++) {
    const item: unknown = value[index];
    if (typeof item === "object" && item !== null) return false;
  }
  return true;
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

/*
 * What a plain scalar's first character tells, for each ASCII character (looked up instead of
 * calling plainStarts and mayBeSpecial for each scalar; other characters start words).
 */
const startsPlain = 1;
/** `-`, `?`, `:`: whether a plain scalar starts depends on the next character (plainStarts). */
const checkNext = 2;
/** The scalar may be null, a boolean, a number or `<<` (see mayBeSpecial). */
const special = 4;
/** … only when it is short: see mayBeSpecial. */
const specialIfShort = 8;
const longSpecial = 6;

const firstCharKinds = new Uint8Array(128);
for (let code = 0; code < 128; code++) {
  let kind = 0;
  if (code === DASH || code === 63 || code === COLON) kind = checkNext;
  else if (plainStarts(`${String.fromCharCode(code)}x`, 0, 2, true)) kind = startsPlain;
  if (mayBeSpecial(code, longSpecial)) kind |= special;
  else if (mayBeSpecial(code, 1)) kind |= specialIfShort;
  firstCharKinds[code] = kind;
}

function mayBeSpecialPlain(kind: number, raw: string): boolean {
  return (kind & special) !== 0 || ((kind & specialIfShort) !== 0 && raw.length < longSpecial);
}

function keyName(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw giveUp;
}

function copyList(items: readonly unknown[], depth: number): unknown[] {
  const list = new Array<unknown>(items.length);
  for (let index = 0; index < items.length; index++)
    list[index] = copyValue(items[index], depth + 1);
  return list;
}

/** Each alias is a fresh copy of its anchor's value, with the same positions, like the full path. */
function copyValue(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > maxDepth) throw giveUp;
  if (value instanceof ReferenceTag)
    return new ReferenceTag(copyList(value.path, depth), value.position);
  if (Array.isArray(value)) {
    const list = copyList(value as unknown[], depth);
    copyNodePositions(value, list);
    return list;
  }
  const result: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    setKey(result, key, copyValue((value as Record<string, unknown>)[key], depth + 1));
  }
  copyNodePositions(value, result);
  return result;
}
