import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Node as YamlNode,
  type Document,
} from "yaml";
import type { SourcePosition } from "../plan.ts";
import { recordKeyPosition, recordPosition, type SourceFile } from "./source-map.ts";
import { ReferenceTag } from "./reference-tag.ts";
import { readPipelineYaml } from "./fast-yaml.ts";
import { LineIndex } from "./line-index.ts";
import { isPlainObject, setKey } from "./plain-object.ts";
import { checkYamlText, YamlProblem, type ParsedYaml } from "./read-yaml.ts";

export { isPlainObject, setKey } from "./plain-object.ts";
export { maxYamlFileBytes, YamlProblem, type ParsedYaml } from "./read-yaml.ts";

/** GitLab's MAX_YAML_DEPTH. */
const maxDepth = 100;
/** Extra nodes that aliases may add: stops alias bombs (billion laughs) before any work. */
const maxAliasNodes = 500_000;

/** Registering `!reference` keeps yaml from building a warning (with a stack) for each use. */
const referenceTags = [
  { tag: "!reference", collection: "seq" as const, resolve: (value: unknown) => value },
  { tag: "!reference", resolve: (value: string) => value },
];

/**
 * Reads YAML the way GitLab's Psych `safe_load` does: YAML 1.1 scalars (yes/no/on/off,
 * octal, sexagesimal), anchors and `<<` merge keys resolved in order, duplicate keys keep
 * the last, dates refused, `!reference` kept as a tag for later.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  checkYamlText(text, file);
  return (
    readPipelineYaml(text, { name: file, lines: new LineIndex() }) ?? parseYamlFully(text, file)
  );
}

/** parseYaml through the `yaml` library's Document, for what the fast reader leaves (and tests). */
export function parseYamlFully(text: string, file: string): ParsedYaml {
  const start: SourcePosition = { file, line: 1, column: 1 };
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, {
    version: "1.1",
    lineCounter,
    uniqueKeys: false,
    prettyErrors: false,
    keepSourceTokens: false,
    stringKeys: false,
    customTags: referenceTags,
  });
  const list = Array.isArray(documents) ? documents : [documents];
  const at = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  for (const document of list) {
    const error = document.errors[0];
    if (error) throw new YamlProblem(firstLine(error.message), at(error.pos[0]));
  }
  if (list.length > 2) {
    throw new YamlProblem("The parsed YAML has too many documents", at(list[2]?.range[0] ?? 0));
  }
  const source: SourceFile = { name: file, lines: lineCounter };
  const converted = list.map((document) => new Converter(document, at, source).convert());
  if (converted.length === 2) {
    const header = converted[0];
    if (!isPlainObject(header)) {
      throw new YamlProblem("Invalid configuration format: the header must be a mapping", start);
    }
    return { header, body: converted[1] ?? null };
  }
  return { body: converted[0] ?? null };
}

function firstLine(message: string): string {
  return message.split("\n")[0] ?? message;
}

class Converter {
  private readonly anchors = new Map<string, YamlNode>();

  private readonly document: Document.Parsed;
  private readonly at: (offset: number) => SourcePosition;
  private readonly source: SourceFile;

  constructor(
    document: Document.Parsed,
    at: (offset: number) => SourcePosition,
    source: SourceFile,
  ) {
    this.document = document;
    this.at = at;
    this.source = source;
  }

  private location(node: YamlNode | null | undefined): { source: SourceFile; offset: number } {
    return { source: this.source, offset: node?.range?.[0] ?? 0 };
  }

  convert(): unknown {
    const contents = this.document.contents;
    if (!contents) return null;
    this.checkAliasExpansion(contents);
    return this.node(contents, 0, false);
  }

  /** Counts what aliases would add, memoised per node, so the check itself stays linear. */
  private checkAliasExpansion(root: YamlNode): void {
    const anchors = new Map<string, YamlNode>();
    const sizes = new Map<YamlNode, number>();
    let physical = 0;
    const size = (node: YamlNode, depth: number): number => {
      if (depth > maxDepth)
        throw new YamlProblem("The parsed YAML is too deep", this.at(node.range?.[0] ?? 0));
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        return target ? (sizes.get(target) ?? 1) : 1;
      }
      physical++;
      if (node.anchor) anchors.set(node.anchor, node);
      let total = 1;
      if (isSeq(node)) for (const item of node.items) total += size(item as YamlNode, depth + 1);
      else if (isMap(node)) {
        for (const pair of node.items) {
          if (pair.key) total += size(pair.key as YamlNode, depth + 1);
          if (pair.value) total += size(pair.value as YamlNode, depth + 1);
        }
      }
      if (node.anchor) sizes.set(node, total);
      if (total - physical > maxAliasNodes) {
        throw new YamlProblem(
          "The parsed YAML is too big: aliases expand to too many nodes",
          this.at(node.range?.[0] ?? 0),
        );
      }
      return total;
    };
    size(root, 0);
  }

  private node(node: YamlNode, depth: number, viaAlias: boolean): unknown {
    if (depth > maxDepth) {
      throw new YamlProblem("The parsed YAML is too deep", this.at(node.range?.[0] ?? 0));
    }
    if (isAlias(node)) {
      const target = this.anchors.get(node.source);
      if (!target)
        throw new YamlProblem(`Unknown alias: ${node.source}`, this.at(node.range?.[0] ?? 0));
      return this.node(target, depth + 1, true);
    }
    if (!viaAlias && node.anchor) this.anchors.set(node.anchor, node);
    if (node.tag === "!reference") return this.reference(node, depth, viaAlias);
    if (isScalar(node)) {
      // Psych reads only yes/no/true/false/on/off as booleans, not YAML 1.1's y/n.
      if (
        typeof node.value === "boolean" &&
        node.type === "PLAIN" &&
        /^[yYnN]$/.test(node.source ?? "")
      ) {
        return node.source;
      }
      return this.scalar(node.value, node.range?.[0] ?? 0);
    }
    if (isSeq(node)) {
      const list: unknown[] = [];
      for (const item of node.items) list.push(this.node(item as YamlNode, depth + 1, viaAlias));
      recordPosition(list, this.location(node));
      return list;
    }
    if (isMap(node)) return this.map(node, depth, viaAlias);
    return null;
  }

  private reference(node: YamlNode, depth: number, viaAlias: boolean): ReferenceTag {
    const position = this.at(node.range?.[0] ?? 0);
    if (!isSeq(node)) return new ReferenceTag([this.plain(node, depth, viaAlias)], position);
    const path = node.items.map((item) => this.node(item as YamlNode, depth + 1, viaAlias));
    return new ReferenceTag(path, position);
  }

  private plain(node: YamlNode, depth: number, viaAlias: boolean): unknown {
    return isScalar(node) ? node.value : this.node(node, depth + 1, viaAlias);
  }

  private map(
    node: YamlNode & { items: unknown[] },
    depth: number,
    viaAlias: boolean,
  ): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    recordPosition(result, this.location(node));
    for (const pair of node.items as Array<{ key: YamlNode | null; value: YamlNode | null }>) {
      const keyNode = pair.key;
      const value = pair.value ? this.node(pair.value, depth + 1, viaAlias) : null;
      if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
        this.mergeInto(result, value, keyNode);
        continue;
      }
      const key = keyNode === null ? "" : this.key(keyNode, depth, viaAlias);
      if (key in result && key !== "__proto__") delete result[key];
      setKey(result, key, value);
      if (keyNode) recordKeyPosition(result, key, this.location(keyNode));
    }
    return result;
  }

  private key(keyNode: YamlNode, depth: number, viaAlias: boolean): string {
    const value =
      isScalar(keyNode) || isAlias(keyNode) ? this.node(keyNode, depth + 1, viaAlias) : keyNode;
    if (value === null || value === undefined) return "";
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    throw new YamlProblem(
      "Invalid configuration format: mapping keys must be scalars",
      this.at(keyNode.range?.[0] ?? 0),
    );
  }

  /** Psych's `<<`: each merged mapping overrides keys seen so far, in order. */
  private mergeInto(result: Record<string, unknown>, value: unknown, keyNode: YamlNode): void {
    const sources: unknown[] = Array.isArray(value) ? [...(value as unknown[])].reverse() : [value];
    const merged: Record<string, unknown> = {};
    for (const source of sources) {
      if (!isPlainObject(source)) {
        throw new YamlProblem(
          "<< merge key expects a mapping or a list of mappings",
          this.at(keyNode.range?.[0] ?? 0),
        );
      }
      Object.assign(merged, source);
    }
    for (const [key, item] of Object.entries(merged)) {
      setKey(result, key, item);
      recordKeyPosition(result, key, this.location(keyNode));
    }
  }

  private scalar(value: unknown, offset: number): unknown {
    if (value instanceof Date) {
      throw new YamlProblem(
        "Tried to load unspecified class: Date (quote the value)",
        this.at(offset),
      );
    }
    if (typeof value === "bigint") return Number(value);
    return value ?? null;
  }
}
