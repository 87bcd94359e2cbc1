import type { VariableLookup } from "../expression/index.ts";
import type { PlanVariable } from "../plan.ts";
import type { PipelineVariable } from "../variables/expand.ts";
import { referencedNames, resolveVariables } from "../variables/expand.ts";
import type { YamlVariable } from "../model/pipeline-model.ts";

/**
 * A job's own predefined variables (CI_JOB_NAME, …), made when one is first read: listing a
 * thousand jobs rarely needs them. `names` are every name such a list can hold.
 */
export class JobPredefined {
  readonly names: ReadonlySet<string>;
  private readonly make: () => ReadonlyArray<readonly [string, string]>;
  private made: ReadonlyArray<readonly [string, string]> | undefined;

  constructor(names: ReadonlySet<string>, make: () => ReadonlyArray<readonly [string, string]>) {
    this.names = names;
    this.make = make;
  }

  get entries(): ReadonlyArray<readonly [string, string]> {
    this.made ??= this.make();
    return this.made;
  }

  /** The value of `name` (the last entry of it), or undefined. */
  get(name: string): string | undefined {
    if (!this.names.has(name)) return undefined;
    const entries = this.entries;
    for (let index = entries.length - 1; index >= 0; index--) {
      const entry = entries[index] as readonly [string, string];
      if (entry[0] === name) return entry[1];
    }
    return undefined;
  }
}

/**
 * Predefined variables of one job: the pipeline's (shared by every job, indexed once) then the
 * job's own (CI_JOB_NAME, …), a later entry of a name winning.
 */
export class PredefinedVariables {
  readonly pipeline: ReadonlyArray<readonly [string, string]>;
  private readonly pipelineIndex: Map<string, number>;
  private readonly pipelineValues: Map<string, string>;
  /** Names of which some entry's value refers to variables. */
  readonly referencing = new Set<string>();

  constructor(pipeline: ReadonlyArray<readonly [string, string]>) {
    this.pipeline = pipeline;
    this.pipelineIndex = new Map();
    this.pipelineValues = new Map();
    pipeline.forEach(([key, value], index) => {
      if (!this.pipelineIndex.has(key)) this.pipelineIndex.set(key, index);
      this.pipelineValues.set(key, value);
      if (referencedNames(value).length > 0) this.referencing.add(key);
    });
  }

  /** A lookup over the pipeline's and then the job's predefined variables. */
  lookup(job: JobPredefined): VariableLookup {
    return (key) => job.get(key) ?? this.pipelineValues.get(key);
  }

  /**
   * The entries for `names`, in the order of the pipeline's list then the job's list (each
   * entry of a name, as a list concatenation would give them).
   */
  entriesFor(names: ReadonlySet<string>, job: JobPredefined): Array<[string, PipelineVariable]> {
    const entries: Array<[string, PipelineVariable]> = [];
    if (names.size === 0) return entries;
    const fromPipeline: number[] = [];
    for (const name of names) {
      const index = this.pipelineIndex.get(name);
      if (index !== undefined) fromPipeline.push(index);
    }
    fromPipeline.sort((a, b) => a - b);
    for (const first of fromPipeline) {
      const name = this.pipeline[first]?.[0];
      // Repeated names in the pipeline's list are rare: take every entry, in order.
      for (let index = first; index < this.pipeline.length; index++) {
        const entry = this.pipeline[index];
        if (entry && entry[0] === name) entries.push([entry[0], { value: entry[1], expand: true }]);
      }
    }
    if (![...names].some((name) => job.names.has(name))) return entries;
    for (const [key, value] of job.entries) {
      if (names.has(key)) entries.push([key, { value, expand: true }]);
    }
    return entries;
  }
}

export interface VariableLayers {
  predefined: PredefinedVariables;
  /** The job's predefined variables (CI_JOB_NAME, CI_NODE_INDEX, …). */
  jobPredefined: JobPredefined;
  /** Global YAML variables and workflow:rules variables the job inherits. */
  inherited: YamlVariable[];
  job: YamlVariable[];
  matrix: Record<string, string>;
  rule: Record<string, string>;
  /** `--variable` ones: highest precedence. */
  user: Record<string, string>;
}

const referencePattern =
  /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|%([A-Za-z_][A-Za-z0-9_]*)%/g;

/**
 * Raw values in precedence order (user > matrix > job > inherited > predefined), as rules see
 * them (no nested expansion). The lists are short and rules read few names: they are searched,
 * not indexed (a Map for each job costs more).
 */
export function rawLookup(
  predefined: VariableLookup,
  inherited: readonly YamlVariable[],
  job: readonly YamlVariable[],
  matrix: Record<string, string>,
  user: Record<string, string>,
): VariableLookup {
  return (key) => {
    if (Object.hasOwn(user, key)) return user[key];
    if (Object.hasOwn(matrix, key)) return matrix[key];
    return lastValueOf(job, key) ?? lastValueOf(inherited, key) ?? predefined(key);
  };
}

/** The value of the last variable named `key` in `list` (a later one wins), or undefined. */
function lastValueOf(list: readonly YamlVariable[], key: string): string | undefined {
  for (let index = list.length - 1; index >= 0; index--) {
    const variable = list[index] as YamlVariable;
    if (variable.key === key) return variable.value;
  }
  return undefined;
}

/**
 * The job's variables after GitLab's precedence (user > rule > matrix > job > inherited >
 * predefined), expanded as at pipeline creation. Returns the non-predefined variables and a
 * lookup of every value for expanding other keywords.
 */
export function jobVariables(
  layers: VariableLayers,
  cache?: JobVariablesCache,
): {
  variables: PlanVariable[];
  lookup: VariableLookup;
  errors: string[];
} {
  const predefined = layers.predefined.lookup(layers.jobPredefined);
  const shared = cache?.sharedFor(layers);
  const key = shared ? sharedKey(shared, layers) : undefined;
  const known = key === undefined ? undefined : shared?.results.get(key);
  const resolved = known ?? expandLayers(layers);
  if (key !== undefined && !known) shared?.results.set(key, resolved);
  const { values } = resolved;
  return {
    variables: resolved.variables.slice(),
    lookup: (name) => values.get(name) ?? predefined(name),
    errors: resolved.errors,
  };
}

interface ExpandedLayers {
  variables: PlanVariable[];
  values: Map<string, string>;
  errors: string[];
}

/** What jobs with the same inherited, job, rule and user layers share. */
interface SharedLayers {
  /** The rule and user layers these are for (found by the job's and inherited layers). */
  rule: Record<string, string>;
  user: Record<string, string>;
  /** Names the layers refer to. */
  referenced: ReadonlySet<string>;
  /** Whether one of them is a job-level predefined variable. */
  referencesJobPredefined: boolean;
  /** Expansions by sharedKey. */
  results: Map<string, ExpandedLayers>;
}

/**
 * The key, among jobs with the same layers, of one job's expansion: its matrix values and the
 * job-level predefined variables (CI_JOB_NAME, …) the layers refer to. Undefined: not worth
 * caching (matrix values that refer to variables).
 */
function sharedKey(shared: SharedLayers, layers: VariableLayers): string | undefined {
  let key = "";
  for (const name in layers.matrix) {
    const value = layers.matrix[name] as string;
    if (value.includes("$") || value.includes("%")) return undefined;
    key += `${name}=${value}\u0000`;
  }
  key += "\u0001";
  if (shared.referencesJobPredefined) {
    for (const [name, value] of layers.jobPredefined.entries)
      if (shared.referenced.has(name)) key += `${name}=${value}\u0000`;
  }
  return key;
}

/**
 * Jobs of a pipeline share most of their variable layers (global variables, the variables of
 * the templates they extend, rules): the expansion of the same layers is done once. A result is
 * shared only between jobs whose layers are the same objects and that agree on every job-level
 * predefined variable (CI_JOB_NAME, …) the layers refer to.
 */
export class JobVariablesCache {
  /**
   * By the job's and the inherited layer, the few combinations with rule and user layers seen
   * with them (as many as the rules that set variables): two lookups and a short search
   * instead of a lookup per layer.
   */
  private readonly byLayers = new WeakMap<object, WeakMap<object, SharedLayers[]>>();

  sharedFor(layers: VariableLayers): SharedLayers {
    let byInherited = this.byLayers.get(layers.job);
    if (!byInherited) this.byLayers.set(layers.job, (byInherited = new WeakMap()));
    let candidates = byInherited.get(layers.inherited);
    if (!candidates) byInherited.set(layers.inherited, (candidates = []));
    for (const candidate of candidates)
      if (candidate.rule === layers.rule && candidate.user === layers.user) return candidate;
    const names = new Set<string>();
    for (const layer of [
      referencesOfList(layers.inherited),
      referencesOfList(layers.job),
      referencesOfRecord(layers.rule),
      referencesOfRecord(layers.user),
    ])
      for (const name of namesOf(layer)) names.add(name);
    const jobLevel = layers.jobPredefined.names;
    const shared: SharedLayers = {
      rule: layers.rule,
      user: layers.user,
      referenced: names,
      referencesJobPredefined: [...names].some((name) => jobLevel.has(name)),
      results: new Map(),
    };
    candidates.push(shared);
    return shared;
  }

  private readonly cycleAnswers = new WeakMap<object, CycleAnswers>();

  /** mayHaveReferenceCycle, worked out once per inherited layer and referencesKey. */
  mayHaveReferenceCycle(layers: VariableLayers): boolean {
    const { predefined, inherited } = layers;
    const jobLevel = layers.jobPredefined.names;
    let answers = this.cycleAnswers.get(inherited);
    if (!answers) {
      answers = { predefined, jobLevel, byReferences: new Map() };
      this.cycleAnswers.set(inherited, answers);
    } else if (answers.predefined !== predefined || answers.jobLevel !== jobLevel) {
      return findsReferenceCycle(layers);
    }
    const key = referencesKey(layers);
    let answer = answers.byReferences.get(key);
    if (answer === undefined) {
      answer = findsReferenceCycle(layers);
      answers.byReferences.set(key, answer);
    }
    return answer;
  }
}

/**
 * False when jobVariables certainly finds no reference cycle (its only error), so that its
 * work can wait until the values are read: the names of the variables with references, linked
 * by those references, form no loop (a name referring to itself counts as one), and none of
 * them refers to a job-level predefined variable or to a predefined one whose value has
 * references. True means there may be a cycle.
 */
export function mayHaveReferenceCycle(layers: VariableLayers, cache?: JobVariablesCache): boolean {
  return cache ? cache.mayHaveReferenceCycle(layers) : findsReferenceCycle(layers);
}

/** The answers of mayHaveReferenceCycle for one inherited layer (and one set of predefined). */
interface CycleAnswers {
  predefined: PredefinedVariables;
  jobLevel: ReadonlySet<string>;
  /** By referencesKey of the other layers. */
  byReferences: Map<string, boolean>;
}

/**
 * What refers to what in the layers above the inherited one, as a string: layers with the same
 * key give findsReferenceCycle the same links. Jobs rarely share their variables lists, but
 * most have the same few references (or none).
 */
function referencesKey(layers: VariableLayers): string {
  let key = `${referencesOfList(layers.job).key}|`;
  for (const name in layers.matrix) {
    const references = referencedNames(layers.matrix[name] as string);
    if (references.length > 0) key += edgeKey(name, references);
  }
  return `${key}|${referencesOfRecord(layers.rule).key}|${referencesOfRecord(layers.user).key}`;
}

/** One variable's references in a referencesKey (the name length-prefixed: names are free). */
function edgeKey(name: string, references: readonly string[]): string {
  return `${name.length}:${name}=${references.join(",")};`;
}

function findsReferenceCycle(layers: VariableLayers): boolean {
  const edges = new Map<string, string[]>();
  const add = (key: string, references: readonly string[]): void => {
    const known = edges.get(key);
    if (known) known.push(...references);
    else edges.set(key, [...references]);
  };
  for (const layer of [referencesOfList(layers.inherited), referencesOfList(layers.job)])
    for (const [key, references] of layer.edges) add(key, references);
  for (const key in layers.matrix) {
    const references = referencedNames(layers.matrix[key] as string);
    if (references.length > 0) add(key, references);
  }
  for (const layer of [referencesOfRecord(layers.rule), referencesOfRecord(layers.user)])
    for (const [key, references] of layer.edges) add(key, references);
  if (edges.size === 0) return false;
  const jobLevel = layers.jobPredefined.names;
  const pipelineLevel = layers.predefined.referencing;
  // Depth-first: 1 while a name is on the path, 2 once everything it reaches is loop-free.
  const state = new Map<string, 1 | 2>();
  const loops = (name: string): boolean => {
    state.set(name, 1);
    for (const target of edges.get(name) ?? []) {
      if (jobLevel.has(target) || pipelineLevel.has(target)) return true;
      const seen = state.get(target);
      if (seen === 1) return true;
      if (seen === undefined && edges.has(target) && loops(target)) return true;
    }
    state.set(name, 2);
    return false;
  };
  for (const name of edges.keys()) if (!state.has(name) && loops(name)) return true;
  return false;
}

/** What the values of one layer refer to: worked out once per layer, as jobs share layers. */
interface LayerReferences {
  /** The values that are expanded: namesOf reads them when first asked. */
  expanded: readonly string[];
  names: readonly string[] | undefined;
  /** Each value's key with the names it refers to (by referencedNames), for those with any. */
  edges: ReadonlyArray<readonly [string, readonly string[]]>;
  /** The edges as a part of referencesKey. */
  key: string;
}

const layerReferences = new WeakMap<object, LayerReferences>();

/** A YAML variables layer's references (only of values that are expanded). */
function referencesOfList(list: readonly YamlVariable[]): LayerReferences {
  let known = layerReferences.get(list);
  if (!known) {
    const expanded: string[] = [];
    const edges: Array<readonly [string, readonly string[]]> = [];
    let key = "";
    for (let index = 0; index < list.length; index++) {
      const variable = list[index] as YamlVariable;
      if (!variable.expand) continue;
      expanded.push(variable.value);
      const references = referencedNames(variable.value);
      if (references.length === 0) continue;
      edges.push([variable.key, references]);
      key += edgeKey(variable.key, references);
    }
    known = { expanded, names: undefined, edges, key };
    layerReferences.set(list, known);
  }
  return known;
}

/** A layer of values that are all expanded (rule, `--variable`): its references. */
function referencesOfRecord(record: Record<string, string>): LayerReferences {
  let known = layerReferences.get(record);
  if (!known) {
    const expanded: string[] = [];
    const edges: Array<readonly [string, readonly string[]]> = [];
    let key = "";
    for (const name in record) {
      const value = record[name] as string;
      expanded.push(value);
      const references = referencedNames(value);
      if (references.length === 0) continue;
      edges.push([name, references]);
      key += edgeKey(name, references);
    }
    known = { expanded, names: undefined, edges, key };
    layerReferences.set(record, known);
  }
  return known;
}

/** Every name the layer's values may refer to (by referencePattern, which counts `$$X` too: safe). */
function namesOf(layer: LayerReferences): readonly string[] {
  if (!layer.names) {
    const names = new Set<string>();
    for (const value of layer.expanded) addReferences(names, value);
    layer.names = [...names];
  }
  return layer.names;
}

function addReferences(names: Set<string>, value: string): void {
  if (!value.includes("$") && !value.includes("%")) return;
  for (const match of value.matchAll(referencePattern))
    names.add(match[1] ?? match[2] ?? match[3] ?? "");
}

function expandLayers(layers: VariableLayers): ExpandedLayers {
  const ordered: Array<[string, PipelineVariable]> = [];
  const own = new Map<string, boolean>();
  const add = (key: string, value: string, expand: boolean): void => {
    ordered.push([key, { value, expand }]);
    own.set(key, expand);
  };
  for (const variable of layers.inherited) add(variable.key, variable.value, variable.expand);
  for (const variable of layers.job) add(variable.key, variable.value, variable.expand);
  for (const [key, value] of Object.entries(layers.matrix)) add(key, value, true);
  for (const [key, value] of Object.entries(layers.rule)) add(key, value, true);
  for (const [key, value] of Object.entries(layers.user)) add(key, value, true);
  // Only the predefined variables the job's own values refer to take part in the expansion:
  // the result is the same and a thousand jobs do not each sort eighty variables.
  const referenced = new Set<string>();
  for (const [, variable] of ordered) {
    if (!variable.expand || (!variable.value.includes("$") && !variable.value.includes("%")))
      continue;
    for (const match of variable.value.matchAll(referencePattern))
      referenced.add(match[1] ?? match[2] ?? match[3] ?? "");
  }
  const predefinedEntries = layers.predefined.entriesFor(referenced, layers.jobPredefined);
  const { values, errors } = resolveVariables(
    predefinedEntries.length === 0 ? ordered : [...predefinedEntries, ...ordered],
  );
  const variables: PlanVariable[] = [];
  for (const [key, expand] of own) variables.push({ key, value: values.get(key) ?? "", expand });
  return { variables, values, errors };
}
