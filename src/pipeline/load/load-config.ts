import { readFileSync } from "node:fs";
import { join, normalize } from "node:path";
import type { Diagnostics } from "../diagnostics.ts";
import type { SourcePosition } from "../plan.ts";
import { deepMergeLarge } from "./deep-merge.ts";
import { interpolateInputs, resolveInputs, type InputProblem } from "./inputs.ts";
import { globLocalFiles } from "./local-files.ts";
import { emptyLargeMapping, isPlainObject } from "./plain-object.ts";
import type { PositionDetail } from "./fast-yaml.ts";
import { readYaml, YamlProblem } from "./read-yaml.ts";
import { fetchRemoteInclude } from "./remote-include.ts";
import { inheritPositions, keyPositionOf, positionOf } from "./source-map.ts";

const maxIncludes = 150;
const includeKeys = new Set([
  "local",
  "remote",
  "file",
  "project",
  "ref",
  "template",
  "component",
  "inputs",
  "rules",
  "integrity",
  "cache",
]);

export interface LoadHooks {
  /**
   * Settles when the other hooks can be called (they need the pipeline's context, read while
   * the main file is read); a rejection stops the loading. Default: at once.
   */
  ready?: Promise<void>;
  /** GitLab-side expansion of `$VAR` in include locations (and `expand_vars` in inputs). */
  expand: (text: string) => string;
  /** Whether an include's `rules` let it in. */
  includeRulesAllow: (rules: unknown, position: SourcePosition | undefined) => boolean;
}

export interface LoadOptions {
  repoDir: string;
  file: string;
  hooks: LoadHooks;
  diagnostics: Diagnostics;
  /** Directory holding copies of project/template/component includes (PIER_INCLUDE_MIRROR). */
  mirrorDir?: string;
  /** Positions the YAML reader records (default "all"). */
  positions?: PositionDetail;
  /** Collects the loaded mappings and sequences known to hold no `!reference` (readYaml). */
  referenceFree?: Set<object>;
}

type Location =
  | { kind: "local"; path: string }
  | { kind: "remote"; url: string }
  | { kind: "mirror"; path: string; label: string };

/**
 * Reads the pipeline file and everything it includes, in GitLab's order: per file, inputs are
 * interpolated, then its includes are loaded depth-first and merged, the file itself on top.
 * Returns undefined when the main file cannot be read as a mapping at all.
 */
export async function loadConfig(
  options: LoadOptions,
): Promise<Record<string, unknown> | undefined> {
  const loader = new IncludeLoader(options);
  return loader.load(
    { kind: "local", path: normalize(options.file) },
    undefined,
    undefined,
    [],
    true,
  );
}

class IncludeLoader {
  private readonly options: LoadOptions;
  private includeCount = 0;

  constructor(options: LoadOptions) {
    this.options = options;
  }

  private error(position: SourcePosition | undefined, message: string): void {
    this.options.diagnostics.error(position, message);
  }

  async load(
    location: Location,
    inputs: Record<string, unknown> | undefined,
    includedAt: SourcePosition | undefined,
    stack: string[],
    main: boolean,
  ): Promise<Record<string, unknown> | undefined> {
    const name = location.kind === "remote" ? location.url : location.path;
    const label = location.kind === "mirror" ? location.label : name;
    let text: string;
    try {
      text = await this.read(location);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (main)
        this.error({ file: name, line: 0, column: 0 }, `cannot read the pipeline file: ${message}`);
      else this.error(includedAt, message);
      return undefined;
    }
    let parsed;
    try {
      parsed = await readYaml(text, name, this.options.positions, this.options.referenceFree);
    } catch (error) {
      if (error instanceof YamlProblem) {
        const prefix = main ? "" : `Included file \`${label}\` does not have valid YAML syntax! `;
        this.error(error.position, `${prefix}${error.message}`);
        return undefined;
      }
      throw error;
    }
    const problems: InputProblem[] = [];
    const values = resolveInputs(parsed.header, inputs, includedAt, problems);
    let body = parsed.body;
    if (values && parsed.header) {
      await this.options.hooks.ready;
      body = interpolateInputs(body, values, this.options.hooks.expand, problems);
    }
    for (const problem of problems) this.error(problem.position ?? includedAt, problem.message);
    if (body === null || body === undefined) {
      if (main)
        this.error({ file: name, line: 1, column: 1 }, "Please provide content of .gitlab-ci.yml");
      return main ? undefined : {};
    }
    if (!isPlainObject(body)) {
      this.error(
        positionOf(body) ?? { file: name, line: 1, column: 1 },
        "Invalid configuration format",
      );
      return undefined;
    }
    const include = body["include"];
    if (include === undefined) return body;
    await this.options.hooks.ready;
    const own = emptyLargeMapping();
    // The file's own keys keep their positions (a job's position is its key's).
    inheritPositions(own, [body]);
    for (const [key, value] of Object.entries(body)) if (key !== "include") own[key] = value;
    let merged: Record<string, unknown> = {};
    for (const entry of this.expandEntries(include, body, [...stack, name])) {
      if (stack.includes(entry.name) || entry.name === name) {
        this.error(entry.at, `Include cycle detected: ${[...stack, name, entry.name].join(" → ")}`);
        continue;
      }
      if (++this.includeCount > maxIncludes) {
        this.error(entry.at, `Maximum of ${maxIncludes} nested includes are allowed!`);
        break;
      }
      const loaded = await this.load(
        entry.location,
        entry.inputs,
        entry.at,
        [...stack, name],
        false,
      );
      if (loaded) merged = deepMergeLarge(merged, loaded);
    }
    return deepMergeLarge(merged, own);
  }

  private async read(location: Location): Promise<string> {
    if (location.kind === "remote") return fetchRemoteInclude(location.url);
    const path =
      location.kind === "local" ? join(this.options.repoDir, location.path) : location.path;
    try {
      // Sync: pipeline files are small, and a short command then never loads fs/promises.
      return readFileSync(path, "utf8");
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (location.kind === "local" && (code === "ENOENT" || code === "EISDIR")) {
        throw new Error(`Local file \`${location.path}\` does not exist!`, { cause: error });
      }
      if (location.kind === "mirror" && code === "ENOENT") {
        throw new Error(`${location.label} is not available locally: no copy at ${path}`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  private expandEntries(
    include: unknown,
    body: Record<string, unknown>,
    stack: string[],
  ): Array<{
    name: string;
    location: Location;
    inputs: Record<string, unknown> | undefined;
    at: SourcePosition | undefined;
  }> {
    const entries: unknown[] = Array.isArray(include) ? include : [include];
    const listAt = keyPositionOf(body, "include");
    const result = [];
    for (const [index, entry] of entries.entries()) {
      const at =
        positionOf(entry) ?? (Array.isArray(include) ? positionOf(include) : listAt) ?? listAt;
      const description =
        typeof entry === "string"
          ? { [/^https?:\/\//.test(entry) ? "remote" : "local"]: entry }
          : entry;
      if (!isPlainObject(description)) {
        this.error(at, `include config should be a hash or a string (entry ${index + 1})`);
        continue;
      }
      const unknown = Object.keys(description).filter((key) => !includeKeys.has(key));
      if (unknown.length > 0) {
        this.error(at, `include config contains unknown keys: ${unknown.join(", ")}`);
        continue;
      }
      if (
        description["rules"] !== undefined &&
        !this.options.hooks.includeRulesAllow(description["rules"], at)
      ) {
        continue;
      }
      const inputs = description["inputs"];
      if (inputs !== undefined && !isPlainObject(inputs)) {
        this.error(at, "include:inputs config should be a hash");
        continue;
      }
      for (const location of this.locations(description, at)) {
        const name = location.kind === "remote" ? location.url : location.path;
        result.push({ name, location, inputs, at });
      }
    }
    void stack;
    return result;
  }

  private locations(
    description: Record<string, unknown>,
    at: SourcePosition | undefined,
  ): Location[] {
    const expand = (value: unknown): string => this.options.hooks.expand(String(value));
    const mirror = this.options.mirrorDir;
    const unavailable = (what: string): Location[] => {
      this.error(
        at,
        `${what} is not available locally (pier runs offline from GitLab); set PIER_INCLUDE_MIRROR to a directory holding a copy`,
      );
      return [];
    };
    if (description["local"] !== undefined) {
      const path = expand(description["local"]).replace(/^\/+/, "");
      if (!/\.ya?ml$/.test(path)) {
        this.error(at, `Included file \`${path}\` does not have YAML extension!`);
        return [];
      }
      if (/[*?[{]/.test(path)) {
        const files = globLocalFiles(this.options.repoDir, path);
        if (files.length === 0)
          this.error(at, `Included file \`${path}\` does not match any files!`);
        return files.map((file) => ({ kind: "local", path: file }));
      }
      return [{ kind: "local", path: normalize(path) }];
    }
    if (description["remote"] !== undefined)
      return [{ kind: "remote", url: expand(description["remote"]) }];
    if (description["project"] !== undefined) {
      const project = expand(description["project"]);
      const files = Array.isArray(description["file"])
        ? description["file"]
        : [description["file"]];
      if (files.some((file) => typeof file !== "string")) {
        this.error(at, "include:file config should be a string or an array of strings");
        return [];
      }
      const label = (file: unknown): string => `Project \`${project}\` file \`${String(file)}\``;
      if (!mirror) return unavailable(label(files.join(", ")));
      return files.map((file) => ({
        kind: "mirror",
        path: join(mirror, "projects", project, expand(file).replace(/^\/+/, "")),
        label: label(file),
      }));
    }
    if (description["file"] !== undefined) {
      this.error(
        at,
        "include config must specify the project where the file is located (project:)",
      );
      return [];
    }
    if (description["template"] !== undefined) {
      const template = expand(description["template"]);
      if (!mirror) return unavailable(`Template \`${template}\``);
      return [
        {
          kind: "mirror",
          path: join(mirror, "templates", template),
          label: `Template \`${template}\``,
        },
      ];
    }
    if (description["component"] !== undefined) {
      const component = expand(description["component"]);
      const match = /^([^/]+)\/(.+)\/([^/@]+)@(.+)$/.exec(component);
      if (!match) {
        this.error(
          at,
          `Component \`${component}\` is not a valid component path (fqdn/project/name@version)`,
        );
        return [];
      }
      if (!mirror) return unavailable(`Component \`${component}\``);
      return [
        {
          kind: "mirror",
          path: join(
            mirror,
            "components",
            match[1] ?? "",
            match[2] ?? "",
            "templates",
            `${match[3]}.yml`,
          ),
          label: `Component \`${component}\``,
        },
      ];
    }
    this.error(
      at,
      "include config should specify one of local, remote, project, template or component",
    );
    return [];
  }
}
