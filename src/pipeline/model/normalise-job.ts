import type { Diagnostics } from "../diagnostics.ts";
import { isPlainObject } from "../load/plain-object.ts";
import { keyPositionOf, positionOf } from "../load/source-map.ts";
import type {
  ArtifactsWhen,
  PlannedArtifacts,
  PlannedCache,
  PlannedEnvironment,
  PlannedImage,
  PlannedRetry,
  PlannedService,
  SourcePosition,
} from "../plan.ts";
import type { OnlyExcept } from "../rules/only-except.ts";
import { parseDuration } from "./duration.ts";
import { bridgeKeys, jobKeys, retryWhenValues } from "./job-keys.ts";
import { normaliseRules } from "./normalise-rules.ts";
import { normaliseVariables } from "./normalise-variables.ts";
import type { JobModel, NeedSpec, RuleSpec } from "./pipeline-model.ts";
import { flattenStrings, isStringList, scalarText } from "./value-checks.ts";

const jobWhens = new Set(["on_success", "on_failure", "always", "manual", "delayed"]);
const artifactsWhens = new Set(["on_success", "on_failure", "always"]);
const cachePolicies = new Set(["pull", "push", "pull-push"]);
const pullPolicies = new Set(["always", "if-not-present", "never"]);
const maxNeeds = 50;
/** `rules:` lists read without a problem (problems are reported for each job). */
const cleanRules = new WeakMap<object, RuleSpec[]>();
/**
 * Keyword values read without a problem, with what they gave: jobs share the values of the
 * templates they extend, so each is read once (problems are reported for each job).
 */
const cleanLines = new WeakMap<object, string[]>();
const cleanImages = new WeakMap<object, PlannedService>();
const cleanServices = new WeakMap<object, PlannedService[]>();
const cleanArtifacts = new WeakMap<object, PlannedArtifacts>();
const cleanCaches = new WeakMap<object, PlannedCache[]>();
const cleanRetries = new WeakMap<object, PlannedRetry>();
const maxParallel = 200;
const keysExcludedByRules = ["only", "except", "start_in"];
const jobVariablesOptions = { allowDetails: false, allowExpand: true };
/**
 * What a job without the keyword gets, shared by every such job (nothing changes a model's
 * lists or retry in place): no lists and objects to allocate, and no nested literals, which V8
 * copies in its runtime, in the model's literal.
 */
const noStrings: string[] = [];
const noServices: PlannedService[] = [];
const noCaches: PlannedCache[] = [];
const noRetry: PlannedRetry = { max: 0, when: ["always"], exitCodes: [] };

/**
 * Reads job hashes (after extends, references and defaults) into JobModels, reporting problems.
 * One normaliser reads every job of a configuration, one after the other.
 */
export class JobNormaliser {
  private readonly diagnostics: Diagnostics;
  private name = "";
  private job: Record<string, unknown> = {};
  private path = "";

  /** `default:` values the job inherits, for the keys it does not set (applicableDefaults). */
  private defaults: Readonly<Record<string, unknown>> | undefined = undefined;

  /** Where the job's name is written. */
  private position: SourcePosition | undefined = undefined;

  /**
   * False: the job's keys and values carry no positions of their own (a configuration loaded
   * with top-level key positions only), so every position is the job's: none is looked up.
   */
  private readonly detailedPositions: boolean;

  constructor(diagnostics: Diagnostics, detailedPositions = true) {
    this.diagnostics = diagnostics;
    this.detailedPositions = detailedPositions;
  }

  /** The job's value of a key `default:` may give: its own, else the inherited default. */
  private value(key: string): unknown {
    // Values read from YAML are never undefined: undefined means the job does not set the key.
    const own = this.job[key];
    return own !== undefined || this.defaults === undefined ? own : this.defaults[key];
  }

  /** Where `key` is written in the job (a default: the job's mapping), else the job's name. */
  private at(key?: string): SourcePosition | undefined {
    if (!this.detailedPositions) return this.position;
    return key !== undefined &&
      (Object.hasOwn(this.job, key) ||
        (this.defaults !== undefined && Object.hasOwn(this.defaults, key)))
      ? keyPositionOf(this.job, key)
      : (this.position ?? positionOf(this.job));
  }

  private error(key: string | undefined, message: string): void {
    this.diagnostics.error(this.at(key), message);
  }

  /** What was read before from `value`, when that was read without a problem. */
  private known<T>(readings: WeakMap<object, T>, value: unknown): T | undefined {
    return typeof value === "object" && value !== null ? readings.get(value) : undefined;
  }

  /** Keeps what was read from `value` when reading it reported nothing (since `before`). */
  private remember<T, R extends T | undefined>(
    readings: WeakMap<object, T>,
    value: unknown,
    before: number,
    result: R,
  ): R {
    if (
      result !== undefined &&
      typeof value === "object" &&
      value !== null &&
      this.diagnostics.items.length === before
    )
      readings.set(value, result);
    return result;
  }

  /**
   * The job `name` (its hash `job`, written at `position`) as a model. `defaults`: the `default:`
   * values it inherits (applicableDefaults).
   */
  normalise(
    name: string,
    job: Record<string, unknown>,
    defaults: Readonly<Record<string, unknown>> | undefined,
    position: SourcePosition,
    defaultStage: string,
  ): JobModel {
    this.name = name;
    this.job = job;
    this.path = `jobs:${name}`;
    this.defaults = defaults;
    this.position = position;
    const isBridge = job["trigger"] !== undefined && job["script"] === undefined;
    const allowed = isBridge ? bridgeKeys : jobKeys;
    let unknown: string[] | undefined;
    for (const key in job) if (!allowed.has(key)) (unknown ??= []).push(key);
    if (unknown)
      this.error(unknown[0], `${this.path} config contains unknown keys: ${unknown.join(", ")}`);

    const model: JobModel = {
      name,
      position,
      stage: defaultStage,
      stagePosition: this.at("stage") ?? position,
      when: "on_success",
      retry: noRetry,
      interruptible: false,
      services: noServices,
      beforeScript: noStrings,
      script: noStrings,
      afterScript: noStrings,
      variables: normaliseVariables(
        job["variables"],
        `${this.path}:variables`,
        this.at("variables"),
        this.diagnostics,
        jobVariablesOptions,
      ),
      inheritVariables: true,
      cache: noCaches,
      tags: noStrings,
    };
    if (job["stage"] !== undefined) {
      if (typeof job["stage"] === "string") model.stage = job["stage"];
      else this.error("stage", `${this.path}:stage config should be a string`);
    }
    this.scripts(model, isBridge);
    this.whenAndRules(model);
    this.needs(model);
    if (job["dependencies"] !== undefined && job["dependencies"] !== null) {
      if (isStringList(job["dependencies"])) {
        model.dependencies = job["dependencies"];
        const at = this.at("dependencies");
        if (at) model.dependenciesPosition = at;
      } else this.error("dependencies", `${this.path} dependencies should be an array of strings`);
    }
    this.retry(model);
    const timeout = this.value("timeout");
    if (timeout !== undefined && timeout !== null) {
      const seconds = parseDuration(timeout);
      if (seconds === undefined) this.error("timeout", `${this.path} timeout should be a duration`);
      else model.timeoutSeconds = seconds;
    }
    if (job["resource_group"] !== undefined) {
      if (typeof job["resource_group"] === "string") model.resourceGroup = job["resource_group"];
      else this.error("resource_group", `${this.path} resource group should be a string`);
    }
    const interruptible = this.value("interruptible");
    if (interruptible !== undefined) {
      if (typeof interruptible === "boolean") model.interruptible = interruptible;
      else
        this.error("interruptible", `${this.path} interruptible config should be a boolean value`);
    }
    this.images(model);
    this.artifacts(model);
    this.cache(model);
    this.environment(model);
    const tagList = this.value("tags");
    if (tagList !== undefined && tagList !== null) {
      const tags = flattenStrings(tagList);
      if (!tags || !Array.isArray(tagList))
        this.error("tags", `${this.path}:tags config should be an array of strings`);
      else model.tags = tags;
    }
    if (job["coverage"] !== undefined) {
      const coverage = job["coverage"];
      if (typeof coverage === "string" && /^\/.+\/[a-z]*$/s.test(coverage))
        model.coverage = coverage;
      else this.error("coverage", `${this.path}:coverage config must be a regular expression`);
    }
    this.parallel(model);
    if (job["trigger"] !== undefined) model.trigger = job["trigger"];
    const hooks = this.value("hooks");
    if (hooks !== undefined) {
      if (isPlainObject(hooks)) {
        model.hooks = {};
        for (const [key, value] of Object.entries(hooks)) {
          const lines = flattenStrings(value);
          if (key !== "pre_get_sources_script")
            this.error("hooks", `${this.path}:hooks config contains unknown keys: ${key}`);
          else if (!lines)
            this.error(
              "hooks",
              `${this.path}:hooks:${key} config should be a string or a nested array of strings up to 10 levels deep`,
            );
          else model.hooks[key] = lines;
        }
      } else this.error("hooks", `${this.path}:hooks config should be a hash`);
    }
    const inherit = job["inherit"];
    if (isPlainObject(inherit)) {
      const variables = inherit["variables"];
      if (typeof variables === "boolean" || isStringList(variables))
        model.inheritVariables = variables;
    }
    return model;
  }

  private scripts(model: JobModel, isBridge: boolean): void {
    const job = this.job;
    if (!isBridge && job["run"] === undefined) model.script = this.lines("script", job["script"]);
    model.beforeScript = this.lines("before_script", this.value("before_script"));
    model.afterScript = this.lines("after_script", this.value("after_script"));
  }

  /** The lines of `value`, a `script`-like keyword's; none when it is absent or wrong (reported). */
  private lines(key: string, value: unknown): string[] {
    const required = key === "script";
    if (value === undefined || value === null) {
      if (required)
        this.error(
          undefined,
          `jobs ${this.name} config should implement the script:, run:, or trigger: keyword`,
        );
      return noStrings;
    }
    // A list of its own (the usual `script:`) is used as it is; nested lists, which
    // `!reference` makes and templates share, are flattened once.
    const lines = isStringList(value)
      ? value
      : (this.known(cleanLines, value) ??
        this.remember(cleanLines, value, this.diagnostics.items.length, flattenStrings(value)));
    if (!lines || (required && lines.length === 0)) {
      this.error(
        key,
        `${this.path}:${key} config should be a string or a nested array of strings up to 10 levels deep`,
      );
      return noStrings;
    }
    return lines;
  }

  private whenAndRules(model: JobModel): void {
    const job = this.job;
    const when = job["when"];
    if (when !== undefined && when !== null) {
      if (typeof when === "string" && jobWhens.has(when)) model.when = when as JobModel["when"];
      else this.error("when", `${this.path} when should be one of: ${[...jobWhens].join(", ")}`);
    }
    if (job["start_in"] !== undefined) {
      const seconds = parseDuration(job["start_in"]);
      if (seconds === undefined)
        this.error("start_in", `${this.path} start in should be a duration`);
      else model.startInSeconds = seconds;
    }
    if (model.when === "delayed" && job["start_in"] === undefined && job["rules"] === undefined) {
      this.error("when", `${this.path} start in should be a duration`);
    }
    const allowFailure = job["allow_failure"];
    if (allowFailure !== undefined && allowFailure !== null) {
      if (typeof allowFailure === "boolean") model.allowFailure = allowFailure;
      else if (isPlainObject(allowFailure) && allowFailure["exit_codes"] !== undefined) {
        const codes = toIntegers(allowFailure["exit_codes"]);
        if (!codes)
          this.error(
            "allow_failure",
            `${this.path}:allow_failure exit codes should be an array of integers or an integer`,
          );
        else model.allowFailure = { exitCodes: codes };
      } else
        this.error(
          "allow_failure",
          `${this.path}:allow_failure config should be a hash or a boolean value`,
        );
    }
    if (job["rules"] !== undefined && job["rules"] !== null) {
      for (let index = 0; index < keysExcludedByRules.length; index++) {
        const key = keysExcludedByRules[index] as string;
        if (job[key] !== undefined && job[key] !== null) {
          this.error(key, `${this.path} config key may not be used with \`rules\`: ${key}`);
        }
      }
      const raw = job["rules"];
      // Jobs share the `rules:` of the templates they extend: read each list once.
      let rules = typeof raw === "object" ? cleanRules.get(raw) : undefined;
      if (!rules) {
        const before = this.diagnostics.items.length;
        rules = normaliseRules(
          raw,
          `${this.path}:rules`,
          this.at("rules"),
          this.diagnostics,
          (value, at) => this.needList(value, at),
        );
        if (rules && typeof raw === "object" && this.diagnostics.items.length === before)
          cleanRules.set(raw, rules);
      }
      if (rules) model.rules = rules;
    }
    // Most jobs have neither: no call for them.
    if (job["only"] !== undefined && job["only"] !== null) {
      const only = this.onlyExcept("only", job["only"]);
      if (only) model.only = only;
    }
    if (job["except"] !== undefined && job["except"] !== null) {
      const except = this.onlyExcept("except", job["except"]);
      if (except) model.except = except;
    }
  }

  private onlyExcept(key: "only" | "except", value: unknown): OnlyExcept | undefined {
    if (typeof value === "string") return { refs: [value] };
    if (isStringList(value)) return { refs: value };
    if (isPlainObject(value)) {
      const policy: OnlyExcept = {};
      for (const [name, item] of Object.entries(value)) {
        if (name === "refs" || name === "variables" || name === "changes") {
          const list = typeof item === "string" ? [item] : item;
          if (isStringList(list)) policy[name] = list;
          else if (name === "changes" && isPlainObject(item) && isStringList(item["paths"]))
            policy.changes = item["paths"];
          else this.error(key, `${this.path}:${key}:${name} should be an array of strings`);
        } else if (name === "kubernetes") {
          if (item === "active") policy.kubernetes = "active";
          else this.error(key, `${this.path}:${key}:kubernetes config should be one of: active`);
        } else this.error(key, `${this.path}:${key} config contains unknown keys: ${name}`);
      }
      return policy;
    }
    this.error(key, `${this.path}:${key} config should be an array of strings or a hash`);
    return undefined;
  }

  private needs(model: JobModel): void {
    const value = this.job["needs"];
    if (value === undefined || value === null) return;
    const needs = this.needList(value, this.at("needs"));
    if (needs) model.needs = needs;
  }

  needList(value: unknown, at: SourcePosition | undefined): NeedSpec[] | undefined {
    if (!Array.isArray(value)) {
      this.diagnostics.error(at, `${this.path}:needs config should be an array`);
      return undefined;
    }
    const needs: NeedSpec[] = [];
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      const itemAt = this.detailedPositions ? (positionOf(item) ?? at) : at;
      if (typeof item === "string") {
        needs.push({ job: item, artifacts: true, optional: false, position: itemAt });
        continue;
      }
      if (!isPlainObject(item)) {
        this.diagnostics.error(itemAt, `${this.path}:needs config can only be a string or a hash`);
        continue;
      }
      if (item["pipeline"] !== undefined || item["project"] !== undefined) {
        // Cross-project and parent-pipeline needs refer to other pipelines: nothing to wait for locally.
        continue;
      }
      const unknown = Object.keys(item).filter(
        (key) => !["job", "artifacts", "optional", "parallel"].includes(key),
      );
      if (unknown.length > 0 || typeof item["job"] !== "string") {
        this.diagnostics.error(
          itemAt,
          `${this.path}:needs:need config contains unknown keys: ${unknown.join(", ") || "job is missing"}`,
        );
        continue;
      }
      const need: NeedSpec = {
        job: item["job"],
        artifacts: item["artifacts"] !== false,
        optional: item["optional"] === true,
        position: itemAt,
      };
      const parallel = item["parallel"];
      if (parallel !== undefined) {
        const matrix = isPlainObject(parallel)
          ? this.matrix(parallel["matrix"], itemAt)
          : undefined;
        if (matrix) need.matrix = matrix;
      }
      needs.push(need);
    }
    if (needs.length > maxNeeds) {
      this.diagnostics.error(
        at,
        `${this.name}: one job can only need ${maxNeeds} others, but you have listed ${needs.length}. See needs keyword documentation for more details`,
      );
    }
    const duplicated = duplicatedNeeds(needs);
    if (duplicated.size > 0) {
      this.diagnostics.error(
        at,
        `${this.name} has the following needs duplicated: ${[...duplicated].join(", ")}.`,
      );
    }
    return needs;
  }

  private retry(model: JobModel): void {
    const value = this.value("retry");
    if (value === undefined || value === null) return;
    const before = this.diagnostics.items.length;
    const retry =
      this.known(cleanRetries, value) ??
      this.remember(cleanRetries, value, before, this.readRetry(value));
    if (retry) model.retry = retry;
  }

  private readRetry(value: unknown): PlannedRetry | undefined {
    const retry: PlannedRetry = { max: 0, when: ["always"], exitCodes: [] };
    if (typeof value === "number") retry.max = value;
    else if (isPlainObject(value)) {
      const unknown = Object.keys(value).filter(
        (key) => !["max", "when", "exit_codes"].includes(key),
      );
      if (unknown.length > 0)
        this.error(
          "retry",
          `${this.path}:retry config contains unknown keys: ${unknown.join(", ")}`,
        );
      if (value["max"] !== undefined) {
        if (typeof value["max"] === "number") retry.max = value["max"];
        else this.error("retry", `${this.path}:retry max should be an integer`);
      }
      if (value["when"] !== undefined) {
        const when = typeof value["when"] === "string" ? [value["when"]] : value["when"];
        if (!isStringList(when))
          this.error("retry", `${this.path}:retry when should be an array of strings or a string`);
        else {
          const bad = when.filter((item) => !retryWhenValues.has(item));
          if (bad.length > 0)
            this.error(
              "retry",
              `${this.path}:retry when contains unknown values: ${bad.join(", ")}`,
            );
          retry.when = when;
        }
      }
      if (value["exit_codes"] !== undefined) {
        const codes = toIntegers(value["exit_codes"]);
        if (!codes)
          this.error(
            "retry",
            `${this.path}:retry exit_codes should be an array of integers or an integer`,
          );
        else retry.exitCodes = codes;
      }
    } else {
      this.error("retry", `${this.path}:retry config has to be either an integer or a hash`);
      return undefined;
    }
    if (!Number.isInteger(retry.max) || retry.max < 0 || retry.max > 2) {
      this.error("retry", `${this.path}:retry config must be an integer between 0 and 2 (max)`);
    }
    return retry;
  }

  private images(model: JobModel): void {
    const image = this.value("image");
    if (image !== undefined && image !== null) {
      const before = this.diagnostics.items.length;
      const parsed =
        this.known(cleanImages, image) ??
        this.remember(cleanImages, image, before, this.imageOf(image, "image", false));
      if (parsed) model.image = parsed;
    }
    const services = this.value("services");
    if (services === undefined || services === null) return;
    if (!Array.isArray(services)) {
      this.error("services", `${this.path}:services config should be a array`);
      return;
    }
    const known = cleanServices.get(services);
    if (known) {
      model.services = known;
      return;
    }
    const before = this.diagnostics.items.length;
    const list: PlannedService[] = [];
    for (const service of services.flat(10)) {
      const parsed = this.imageOf(service, "services:service", true);
      if (parsed) list.push(parsed);
    }
    model.services = this.remember(cleanServices, services, before, list);
  }

  private imageOf(value: unknown, path: string, isService: boolean): PlannedService | undefined {
    const key = isService ? "services" : "image";
    if (typeof value === "string") return { name: value };
    if (!isPlainObject(value)) {
      this.error(key, `${this.path}:${path} config should be a hash or a string`);
      return undefined;
    }
    const allowed = isService
      ? ["name", "entrypoint", "command", "alias", "variables", "pull_policy", "docker", "ports"]
      : ["name", "entrypoint", "pull_policy", "docker", "ports"];
    const unknown = Object.keys(value).filter((item) => !allowed.includes(item));
    if (unknown.length > 0)
      this.error(key, `${this.path}:${path} config contains unknown keys: ${unknown.join(", ")}`);
    if (typeof value["name"] !== "string") {
      this.error(key, `${this.path}:${path} config should contain a name`);
      return undefined;
    }
    const result: PlannedService = { name: value["name"] };
    for (const field of ["entrypoint", "command"] as const) {
      const item = value[field];
      if (item === undefined) continue;
      if (isStringList(item)) result[field] = item;
      else this.error(key, `${this.path}:${path} ${field} config should be an array of strings`);
    }
    if (isService && value["alias"] !== undefined) {
      if (typeof value["alias"] === "string") result.alias = value["alias"];
      else this.error(key, `${this.path}:${path} alias should be a string`);
    }
    if (isService && isPlainObject(value["variables"])) {
      const variables: Record<string, string> = {};
      for (const [name, item] of Object.entries(value["variables"]))
        variables[name] = scalarText(item) ?? "";
      result.variables = variables;
    }
    if (value["pull_policy"] !== undefined) {
      const policy =
        typeof value["pull_policy"] === "string" ? [value["pull_policy"]] : value["pull_policy"];
      if (!isStringList(policy) || policy.some((item) => !pullPolicies.has(item))) {
        this.error(key, `${this.path}:${path}:pull_policy config contains unknown values`);
      } else result.pullPolicy = policy;
    }
    if (isPlainObject(value["docker"])) {
      const docker: PlannedImage["docker"] = {};
      if (typeof value["docker"]["platform"] === "string")
        docker.platform = value["docker"]["platform"];
      if (typeof value["docker"]["user"] === "string") docker.user = value["docker"]["user"];
      result.docker = docker;
    }
    return result;
  }

  private artifacts(model: JobModel): void {
    const value = this.value("artifacts");
    if (value === undefined || value === null) return;
    const before = this.diagnostics.items.length;
    const artifacts =
      this.known(cleanArtifacts, value) ??
      this.remember(cleanArtifacts, value, before, this.readArtifacts(value));
    if (artifacts) model.artifacts = artifacts;
  }

  private readArtifacts(value: unknown): PlannedArtifacts | undefined {
    if (!isPlainObject(value)) {
      this.error("artifacts", `${this.path}:artifacts config should be a hash`);
      return undefined;
    }
    const allowed = [
      "name",
      "untracked",
      "paths",
      "exclude",
      "when",
      "expire_in",
      "expose_as",
      "reports",
      "public",
      "access",
    ];
    const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
    if (unknown.length > 0)
      this.error(
        "artifacts",
        `${this.path}:artifacts config contains unknown keys: ${unknown.join(", ")}`,
      );
    const list = (key: string): string[] => {
      const item = value[key];
      if (item === undefined || item === null) return [];
      const lines = flattenStrings(item);
      if (!lines || !Array.isArray(item)) {
        this.error("artifacts", `${this.path}:artifacts ${key} should be an array of strings`);
        return [];
      }
      return lines;
    };
    const artifacts: PlannedArtifacts = {
      paths: list("paths"),
      exclude: list("exclude"),
      untracked: value["untracked"] === true,
      when: "on_success",
      reports: {},
    };
    if (typeof value["name"] === "string") artifacts.name = value["name"];
    if (value["when"] !== undefined) {
      if (typeof value["when"] === "string" && artifactsWhens.has(value["when"]))
        artifacts.when = value["when"] as ArtifactsWhen;
      else
        this.error(
          "artifacts",
          `${this.path}:artifacts when should be on_success, on_failure or always`,
        );
    }
    if (value["expire_in"] !== undefined) {
      const text = scalarText(value["expire_in"]);
      if (text === undefined || (text !== "never" && parseDuration(text) === undefined)) {
        this.error("artifacts", `${this.path}:artifacts expire in should be a duration`);
      } else artifacts.expireIn = text;
    }
    if (typeof value["expose_as"] === "string") artifacts.exposeAs = value["expose_as"];
    if (typeof value["public"] === "boolean") artifacts.public = value["public"];
    if (typeof value["access"] === "string") artifacts.access = value["access"];
    if (isPlainObject(value["reports"])) {
      for (const [type, paths] of Object.entries(value["reports"])) {
        const lines = flattenStrings(paths);
        if (lines) artifacts.reports[type] = lines;
        else if (isPlainObject(paths)) artifacts.reports[type] = [];
      }
    }
    return artifacts;
  }

  private cache(model: JobModel): void {
    const value = this.value("cache");
    if (value === undefined || value === null) return;
    const before = this.diagnostics.items.length;
    model.cache =
      this.known(cleanCaches, value) ??
      this.remember(cleanCaches, value, before, this.readCaches(value));
  }

  private readCaches(value: unknown): PlannedCache[] {
    const caches: PlannedCache[] = [];
    const entries = Array.isArray(value) ? value : [value];
    if (entries.length > 4)
      this.error("cache", `${this.path}:cache config no more than 4 caches can be created`);
    for (const entry of entries) {
      if (!isPlainObject(entry)) {
        this.error("cache", `${this.path}:cache config should be a hash`);
        continue;
      }
      const allowed = ["key", "paths", "untracked", "unprotect", "policy", "when", "fallback_keys"];
      const unknown = Object.keys(entry).filter((key) => !allowed.includes(key));
      if (unknown.length > 0)
        this.error(
          "cache",
          `${this.path}:cache config contains unknown keys: ${unknown.join(", ")}`,
        );
      const cache: PlannedCache = {
        key: "default",
        paths: [],
        untracked: entry["untracked"] === true,
        unprotect: entry["unprotect"] === true,
        policy: "pull-push",
        when: "on_success",
        fallbackKeys: [],
      };
      const key = entry["key"];
      const keyText = scalarText(key);
      if (keyText !== undefined) cache.key = keyText;
      else if (isPlainObject(key)) {
        const files = key["files"];
        if (!isStringList(files) || files.length < 1 || files.length > 2) {
          this.error(
            "cache",
            `${this.path}:cache:key:files config should be an array of one or two strings`,
          );
        } else cache.keyFiles = files;
        if (key["prefix"] !== undefined) {
          const prefix = scalarText(key["prefix"]);
          if (prefix !== undefined) cache.keyPrefix = prefix;
        }
      } else if (key !== undefined && key !== null)
        this.error("cache", `${this.path}:cache:key config should be a hash, a string or a symbol`);
      if (entry["paths"] !== undefined) {
        const paths = flattenStrings(entry["paths"]);
        if (!paths || !Array.isArray(entry["paths"]))
          this.error("cache", `${this.path}:cache:paths config should be an array of strings`);
        else cache.paths = paths;
      }
      if (entry["policy"] !== undefined) {
        const policy = entry["policy"];
        if (typeof policy === "string" && (cachePolicies.has(policy) || policy.includes("$")))
          cache.policy = policy;
        else
          this.error(
            "cache",
            `${this.path}:cache policy should be pull-push, push, or pull, or a variable`,
          );
      }
      if (entry["when"] !== undefined) {
        if (typeof entry["when"] === "string" && artifactsWhens.has(entry["when"]))
          cache.when = entry["when"] as ArtifactsWhen;
        else
          this.error("cache", `${this.path}:cache when should be on_success, on_failure or always`);
      }
      if (entry["fallback_keys"] !== undefined) {
        if (isStringList(entry["fallback_keys"])) cache.fallbackKeys = entry["fallback_keys"];
        else
          this.error(
            "cache",
            `${this.path}:cache:fallback_keys config should be an array of strings`,
          );
      }
      caches.push(cache);
    }
    return caches;
  }

  private environment(model: JobModel): void {
    const value = this.job["environment"];
    if (value === undefined || value === null) return;
    if (typeof value === "string") {
      model.environment = { name: value };
      return;
    }
    if (!isPlainObject(value) || typeof value["name"] !== "string") {
      this.error(
        "environment",
        `${this.path}:environment config should be a hash or a string with a name`,
      );
      return;
    }
    const environment: PlannedEnvironment = { name: value["name"] };
    if (typeof value["url"] === "string") environment.url = value["url"];
    if (typeof value["action"] === "string") {
      if (!["start", "prepare", "stop", "verify", "access"].includes(value["action"])) {
        this.error(
          "environment",
          `${this.path}:environment action should be start, stop, prepare, verify, or access`,
        );
      }
      environment.action = value["action"];
    }
    if (typeof value["on_stop"] === "string") environment.onStop = value["on_stop"];
    if (typeof value["auto_stop_in"] === "string") environment.autoStopIn = value["auto_stop_in"];
    if (typeof value["deployment_tier"] === "string")
      environment.deploymentTier = value["deployment_tier"];
    if (value["kubernetes"] !== undefined) environment.kubernetes = value["kubernetes"];
    model.environment = environment;
  }

  private parallel(model: JobModel): void {
    const value = this.job["parallel"];
    if (value === undefined || value === null) return;
    if (typeof value === "number") {
      if (!Number.isInteger(value) || value < 1 || value > maxParallel) {
        this.error(
          "parallel",
          `${this.path}:parallel config should be an integer greater than or equal to 1 and less than or equal to ${maxParallel}`,
        );
      } else model.parallel = { total: value };
      return;
    }
    if (!isPlainObject(value) || value["matrix"] === undefined) {
      this.error("parallel", `${this.path}:parallel config should be an integer or a hash`);
      return;
    }
    const matrix = this.matrix(value["matrix"], this.at("parallel"));
    if (!matrix) return;
    let total = 0;
    for (let index = 0; index < matrix.length; index++) {
      const row = matrix[index] as Record<string, string[]>;
      const keys = Object.keys(row);
      let product = 1;
      for (let key = 0; key < keys.length; key++)
        product *= (row[keys[key] as string] as string[]).length;
      total += product;
    }
    if (total > maxParallel) {
      this.error(
        "parallel",
        `${this.path}:parallel:matrix config generates too many jobs (maximum is ${maxParallel})`,
      );
      return;
    }
    model.parallel = { matrix };
  }

  private matrix(
    value: unknown,
    at: SourcePosition | undefined,
  ): Array<Record<string, string[]>> | undefined {
    if (!Array.isArray(value) || value.length === 0) {
      this.diagnostics.error(
        at,
        `${this.path}:parallel:matrix config should be an array of hashes`,
      );
      return undefined;
    }
    const result: Array<Record<string, string[]>> = [];
    for (let index = 0; index < value.length; index++) {
      const entry: unknown = value[index];
      if (!isPlainObject(entry)) {
        this.diagnostics.error(
          at,
          `${this.path}:parallel:matrix config should be an array of hashes`,
        );
        return undefined;
      }
      const row: Record<string, string[]> = {};
      const keys = Object.keys(entry);
      for (let keyIndex = 0; keyIndex < keys.length; keyIndex++) {
        const key = keys[keyIndex] as string;
        const item = entry[key];
        const list = (Array.isArray(item) ? item : [item]).map(scalarText);
        if (!isStringList(list)) {
          this.diagnostics.error(
            at,
            `${this.path}:parallel:matrix config ${key} should be a string or an array of strings`,
          );
          return undefined;
        }
        row[key] = list;
      }
      result.push(row);
    }
    return result;
  }
}

function toIntegers(value: unknown): number[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  return list.every((item) => typeof item === "number" && Number.isInteger(item))
    ? (list as number[])
    : undefined;
}

const noDuplicates: ReadonlySet<string> = new Set();

/** The jobs needed twice (the same job and matrix), in order. */
function duplicatedNeeds(needs: NeedSpec[]): ReadonlySet<string> {
  // Lists are short (at most 50 needs are valid) and rarely have a duplicate: compared pairwise,
  // with no keys or sets made.
  let duplicated: Set<string> | undefined;
  for (let later = 1; later < needs.length; later++) {
    const need = needs[later] as NeedSpec;
    for (let earlier = 0; earlier < later; earlier++) {
      const other = needs[earlier] as NeedSpec;
      if (need.matrix || other.matrix ? needKey(need) === needKey(other) : need.job === other.job) {
        (duplicated ??= new Set()).add(need.job);
        break;
      }
    }
  }
  return duplicated ?? noDuplicates;
}

function needKey(need: NeedSpec): string {
  return need.matrix ? `${need.job}${JSON.stringify(need.matrix)}` : need.job;
}
