import type { Diagnostics } from "../diagnostics.ts";
import { deepMerge, deepMergeAll } from "../load/deep-merge.ts";
import { isPlainObject, setKey } from "../load/plain-object.ts";
import { keyPositionOf } from "../load/source-map.ts";

/** GitLab allows 10 ancestors ("up to eleven levels" counting the job). */
const maxExtendsDepth = 10;

/**
 * Resolves `extends` on the merged configuration (GitLab's `Config::Extendable`): parents are
 * resolved first, deep-merged left to right, the job merged on top; the result replaces the job
 * so later extenders see it. The configuration's top level is changed in place (the loader made
 * it; nothing else holds it) and returned; the values in it are not changed.
 */
export function resolveExtends(
  config: Record<string, unknown>,
  diagnostics: Diagnostics,
): Record<string, unknown> {
  const resolved = new Map<string, Record<string, unknown>>();
  const failed = new Set<string>();

  const fail = (name: string, job: Record<string, unknown>, message: string): undefined => {
    const at = keyPositionOf(job, "extends") ?? keyPositionOf(config, name);
    diagnostics.error(at, `${name}: ${message}`);
    failed.add(name);
    return undefined;
  };

  const resolve = (name: string, chain: string[]): Record<string, unknown> | undefined => {
    const done = resolved.get(name);
    if (done) return done;
    if (failed.has(name)) return undefined;
    const job = config[name];
    if (!isPlainObject(job)) return undefined;
    const extendsValue = job["extends"];
    if (extendsValue === undefined || extendsValue === null) {
      resolved.set(name, job);
      return job;
    }
    const parents = typeof extendsValue === "string" ? [extendsValue] : extendsValue;
    if (!Array.isArray(parents) || !parents.every((parent) => typeof parent === "string")) {
      return fail(name, job, "invalid `extends` value: should be a string or an array of strings");
    }
    if (chain.length > maxExtendsDepth) return fail(name, job, "nesting too deep in `extends`");
    const sources: Array<Record<string, unknown>> = [];
    for (const parent of parents) {
      if (parent === name || chain.includes(parent))
        return fail(name, job, "circular dependency detected in `extends`");
      if (!Object.hasOwn(config, parent))
        return fail(name, job, `unknown keys in \`extends\` (${parent})`);
      if (!isPlainObject(config[parent]))
        return fail(name, job, `invalid base hashes in \`extends\` (${parent})`);
      const base = resolved.get(parent) ?? resolve(parent, [...chain, name]);
      if (!base) {
        failed.add(name);
        return undefined;
      }
      sources.push(base);
    }
    sources.push(job);
    const value = sources.length === 1 ? deepMerge({}, job) : deepMergeAll(sources);
    resolved.set(name, value);
    return value;
  };

  const names = Object.keys(config);
  for (let index = 0; index < names.length; index++) {
    const name = names[index] as string;
    const value = config[name];
    if (isPlainObject(value) && value["extends"] !== undefined) {
      // A job is only read before its own resolution: as itself, or as a parent, whose result
      // `resolved` then holds. So it can be replaced at once.
      const merged = resolve(name, []);
      if (merged) setKey(config, name, merged);
    }
  }
  return config;
}
