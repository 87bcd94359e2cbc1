import { resolve } from "node:path";
import { resolveExtends } from "./compose/resolve-extends.ts";
import { resolveReferences } from "./compose/resolve-references.ts";
import {
  loadPipelineContext,
  predefinedPipelineVariables,
  type PipelineContext,
} from "./context/index.ts";
import { Diagnostics } from "./diagnostics.ts";
import type { VariableLookup } from "./expression/index.ts";
import type { PositionDetail } from "./load/fast-yaml.ts";
import { loadConfig } from "./load/load-config.ts";
import { positionOf } from "./load/source-map.ts";
import { normaliseRules } from "./model/normalise-rules.ts";
import type { PlanOptions, SourcePosition } from "./plan.ts";
import { matchRules } from "./rules/rule.ts";
import { expandValue } from "./variables/expand.ts";

export interface CompiledConfig {
  /** The fully merged configuration: includes merged, `extends` and `!reference` resolved. */
  config: Record<string, unknown>;
  context: PipelineContext;
  /** Predefined pipeline variables then `--variable` ones (later wins). */
  pipelineVariables: Array<[string, string]>;
  diagnostics: Diagnostics;
}

const includeRuleWhens = new Set(["always", "never"]);

export interface CompileSettings {
  /** Source positions to record (default "all"; see PositionDetail). */
  positions?: PositionDetail;
  /** The context of an earlier compile of the same options, instead of reading git again. */
  context?: PipelineContext;
}

/**
 * Loads the pipeline file as GitLab builds its configuration: includes (with their rules and
 * inputs), then `extends`, then `!reference`. Problems are collected in `diagnostics`; the
 * result is undefined only when nothing usable was read.
 */
export async function compileConfig(
  options: PlanOptions,
  diagnostics = new Diagnostics(),
  settings: CompileSettings = {},
): Promise<CompiledConfig | undefined> {
  const repoDir = resolve(options.repoDir);
  const contextOptions = {
    repoDir,
    ...pick(options, ["ref", "branch", "tag", "source", "pipelineId", "registry", "registryImage"]),
  };
  // git is asked while the main file is read and parsed: only includes need the context.
  let context: PipelineContext | undefined;
  let pipelineVariables: Array<[string, string]> = [];
  let known = new Map<string, string>();
  const ready = (
    settings.context ? Promise.resolve(settings.context) : loadPipelineContext(contextOptions)
  ).then((loaded) => {
    context = loaded;
    pipelineVariables = [
      ...predefinedPipelineVariables(loaded),
      ...Object.entries(options.variables),
    ];
    known = new Map(pipelineVariables);
  });
  // Awaited below, after the loading; no unhandled rejection meanwhile.
  ready.catch(() => undefined);
  const lookup: VariableLookup = (name) => known.get(name);
  const expand = (text: string): string =>
    text.includes("$") || text.includes("%") ? expandValue(text, lookup) : text;
  const includeRulesAllow = (rules: unknown, position: SourcePosition | undefined): boolean => {
    const list = normaliseRules(
      rules,
      "include:rules",
      positionOf(rules) ?? position,
      diagnostics,
      null,
      includeRuleWhens,
    );
    if (!list || !context) return false;
    const match = matchRules(list, { lookup, context });
    return match !== undefined && match.rule.when !== "never";
  };
  const mirror = process.env["PIER_INCLUDE_MIRROR"];
  const referenceFree = new Set<object>();
  const loaded = await loadConfig({
    repoDir,
    file: options.file,
    hooks: { ready, expand, includeRulesAllow },
    diagnostics,
    referenceFree,
    ...(mirror ? { mirrorDir: resolve(mirror) } : {}),
    ...(settings.positions ? { positions: settings.positions } : {}),
  });
  await ready;
  if (!loaded || !context) return undefined;
  const extended = resolveExtends(loaded, diagnostics);
  const config = resolveReferences(extended, diagnostics, referenceFree);
  return { config, context, pipelineVariables, diagnostics };
}

function pick<T extends object, K extends keyof T>(source: T, keys: K[]): Partial<Pick<T, K>> {
  const result: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) result[key] = source[key];
  return result;
}
