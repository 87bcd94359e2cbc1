import type { SourcePosition } from "../plan.ts";
import { readPipelineYaml, type PositionDetail } from "./fast-yaml.ts";
import { LineIndex } from "./line-index.ts";

/** Larger files are refused before parsing (GitLab limits the parsed size; see README). */
export const maxYamlFileBytes = 20 * 1024 * 1024;

export class YamlProblem extends Error {
  readonly position: SourcePosition;

  constructor(message: string, position: SourcePosition) {
    super(message);
    this.position = position;
  }
}

export interface ParsedYaml {
  /** The `spec:` header document when the file has two documents. */
  header?: Record<string, unknown>;
  /** The configuration document; null when the file is empty. */
  body: unknown;
}

/** Refuses what is not worth parsing: too big, or binary. */
export function checkYamlText(text: string, file: string): void {
  const start: SourcePosition = { file, line: 1, column: 1 };
  if (text.length > maxYamlFileBytes) {
    throw new YamlProblem(
      `The parsed YAML is too big (${text.length} bytes; pier reads at most ${maxYamlFileBytes})`,
      start,
    );
  }
  if (text.includes("\0")) {
    throw new YamlProblem("Invalid configuration format: the file is binary, not YAML", start);
  }
}

/**
 * parseYaml (parse-yaml.ts) for the loader: the fast reader first, and the `yaml` library,
 * which is large to load, only for the files the fast reader leaves to it (that one always
 * records every position). `referenceFree`: see readPipelineYaml.
 */
export async function readYaml(
  text: string,
  file: string,
  positions: PositionDetail = "all",
  referenceFree?: Set<object>,
): Promise<ParsedYaml> {
  checkYamlText(text, file);
  const lines = new LineIndex();
  const fast = readPipelineYaml(text, { name: file, lines }, positions, referenceFree);
  if (fast) return fast;
  const { parseYamlFully } = await import("./parse-yaml.ts");
  return parseYamlFully(text, file);
}
