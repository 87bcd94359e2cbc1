import type { VariableLookup } from "../expression/index.ts";

/** A variable as GitLab holds it at pipeline creation. */
export interface PipelineVariable {
  value: string;
  /** false: `expand: false` / raw; the value is used literally and not expanded here. */
  expand: boolean;
  /** A file-type variable: the runner writes it to a file; references to it are left for the runner. */
  file?: boolean;
}

export interface ResolveOptions {
  /** Keep references to unknown variables as written (default true) instead of removing them. */
  keepUndefined?: boolean;
  /**
   * Insert the literal value of raw (`expand: false`) variables where they are referenced
   * (default false: keep `$RAW` for the runner, which then inserts the value without
   * expanding it again, as GitLab does for the job payload).
   */
  expandRawReferences?: boolean;
  /** Insert the content of file variables where they are referenced (default false, as GitLab does for the job payload). */
  expandFileReferences?: boolean;
}

// GitLab's Collection::Item::VARIABLES_REGEXP: `$$` and `%%` are consumed (and kept) as pairs,
// then `$NAME`, `${NAME}`, `%NAME%`. `${}` matches without a name and is kept.
const REFERENCE =
  /\$\$|%%|\$([a-zA-Z_][a-zA-Z0-9_]*)|\$\{([a-zA-Z_][a-zA-Z0-9_]*)?\}|%([a-zA-Z_][a-zA-Z0-9_]*)%/g;

function mayReference(value: string): boolean {
  return value.includes("$") || value.includes("%");
}

/**
 * One pass of GitLab-side expansion (`ExpandVariables.expand_existing`): `$VAR`, `${VAR}` and
 * `%VAR%` are replaced when known; unknown references and `$$`/`%%` are kept as written.
 */
export function expandValue(value: string, lookup: VariableLookup): string {
  if (!mayReference(value)) return value;
  return value.replace(REFERENCE, (match, dollar?: string, braced?: string, percent?: string) => {
    const name = dollar ?? braced ?? percent;
    if (name === undefined) return match;
    return lookup(name) ?? match;
  });
}

/** Names referenced by a value, in order (GitLab's `Item#depends_on`). */
export function referencedNames(value: string): string[] {
  const names: string[] = [];
  if (!mayReference(value)) return names;
  for (const match of value.matchAll(REFERENCE)) {
    const name = match[1] ?? match[2] ?? match[3];
    if (name !== undefined) names.push(name);
  }
  return names;
}

interface Item {
  name: string;
  variable: PipelineVariable;
  dependsOn: number[] | undefined;
}

/**
 * Expands a set of variables that refer to each other, as GitLab's
 * `Collection#sort_and_expand_all` does: entries are sorted so that a variable is expanded
 * after the ones it references, and a later entry with the same name overrides an earlier one
 * (the caller orders entries from lowest to highest precedence). A variable referring to its
 * own name sees the earlier definition (`PATH: "$PATH:/x"`). A reference cycle is an error
 * ("circular variable reference detected: …"), and then no value is expanded, like GitLab.
 */
export function resolveVariables(
  ordered: Array<[string, PipelineVariable]>,
  options: ResolveOptions = {},
): { values: Map<string, string>; errors: string[] } {
  const keepUndefined = options.keepUndefined ?? true;
  const expandRaw = options.expandRawReferences ?? false;
  const expandFile = options.expandFileReferences ?? false;

  const indexesByName = new Map<string, number[]>();
  ordered.forEach(([name], index) => {
    const list = indexesByName.get(name);
    if (list) list.push(index);
    else indexesByName.set(name, [index]);
  });
  const items: Item[] = ordered.map(([name, variable]) => ({
    name,
    variable,
    dependsOn:
      variable.expand && mayReference(variable.value)
        ? referencedNames(variable.value).flatMap((ref) => indexesByName.get(ref) ?? [])
        : undefined,
  }));

  const { order, cycles } = stronglyConnectedComponents(items);
  if (cycles.length > 0) {
    const described = cycles.map(
      (cycle) => `[${cycle.map((i) => JSON.stringify(items[i]?.name)).join(", ")}]`,
    );
    return {
      values: new Map(ordered.map(([name, variable]) => [name, variable.value])),
      errors: [`circular variable reference detected: ${described.join(", ")}`],
    };
  }

  // The collection as it grows in dependency order: a reference sees the last entry added.
  const current = new Map<string, { value: string; variable: PipelineVariable }>();
  const expanded: string[] = new Array<string>(items.length);
  for (const index of order) {
    const item = items[index];
    if (!item) continue;
    let value = item.variable.value;
    if (item.dependsOn !== undefined) {
      value = value.replace(
        REFERENCE,
        (match, dollar?: string, braced?: string, percent?: string) => {
          const name = dollar ?? braced ?? percent;
          if (name === undefined) return match;
          const found = current.get(name);
          if (!found) return keepUndefined ? match : "";
          if (found.variable.file) return expandFile ? found.value : match;
          if (!found.variable.expand) return expandRaw ? found.value : match;
          return found.value;
        },
      );
    }
    expanded[index] = value;
    current.set(item.name, { value, variable: item.variable });
  }

  const values = new Map<string, string>();
  items.forEach((item, index) => values.set(item.name, expanded[index] ?? item.variable.value));
  return { values, errors: [] };
}

/**
 * Tarjan's algorithm in the order Ruby's TSort visits nodes (entries in order, dependencies in
 * order): components come out dependencies first. Only components of more than one entry are
 * cycles; a variable referring to its own name is not.
 */
function stronglyConnectedComponents(items: Item[]): { order: number[]; cycles: number[][] } {
  const order: number[] = [];
  const cycles: number[][] = [];
  const indexOf = new Int32Array(items.length).fill(-1);
  const lowLink = new Int32Array(items.length);
  const onStack = new Uint8Array(items.length);
  const stack: number[] = [];
  let counter = 0;

  const visit = (node: number): void => {
    indexOf[node] = lowLink[node] = counter++;
    stack.push(node);
    onStack[node] = 1;
    for (const child of items[node]?.dependsOn ?? []) {
      if (indexOf[child] === -1) {
        visit(child);
        lowLink[node] = Math.min(lowLink[node] ?? 0, lowLink[child] ?? 0);
      } else if (onStack[child]) {
        lowLink[node] = Math.min(lowLink[node] ?? 0, indexOf[child] ?? 0);
      }
    }
    if (lowLink[node] === indexOf[node]) {
      const component: number[] = [];
      let member: number | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack[member] = 0;
        component.push(member);
      } while (member !== node);
      component.reverse();
      if (component.length > 1) cycles.push(component);
      else order.push(node);
    }
  };

  for (let node = 0; node < items.length; node++) if (indexOf[node] === -1) visit(node);
  return { order, cycles };
}
