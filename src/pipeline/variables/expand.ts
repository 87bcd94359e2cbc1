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

// Values repeat across the jobs of a pipeline (predefined and global variables): analyse
// each distinct value once.
const referencesByValue = new Map<string, readonly string[]>();
const NO_REFERENCES: readonly string[] = [];

/** Names referenced by a value, in order (GitLab's `Item#depends_on`). */
export function referencedNames(value: string): readonly string[] {
  if (!mayReference(value)) return NO_REFERENCES;
  let names = referencesByValue.get(value);
  if (!names) {
    const found: string[] = [];
    // exec, not matchAll: no iterator and no array of matches for cold code to make.
    REFERENCE.lastIndex = 0;
    for (let match = REFERENCE.exec(value); match !== null; match = REFERENCE.exec(value)) {
      const name = match[1] ?? match[2] ?? match[3];
      if (name !== undefined) found.push(name);
    }
    names = found.length === 0 ? NO_REFERENCES : found;
    if (referencesByValue.size > 100_000) referencesByValue.clear();
    referencesByValue.set(value, names);
  }
  return names;
}

/**
 * Expands a set of variables that refer to each other, with the results of GitLab's
 * `Collection#sort_and_expand_all`: a later entry overrides an earlier one with the same name
 * (the caller orders entries from lowest to highest precedence) and references see the final
 * value of a name, whatever the order; a variable referring to its own name sees the earlier
 * definition (`PATH: "$PATH:/x"`). A reference cycle is an error ("circular variable
 * reference detected: …"), and then no value is expanded, like GitLab.
 */
export function resolveVariables(
  ordered: ReadonlyArray<readonly [string, PipelineVariable]>,
  options: ResolveOptions = {},
): { values: Map<string, string>; errors: string[] } {
  const keepUndefined = options.keepUndefined ?? true;
  const expandRaw = options.expandRawReferences ?? false;
  const expandFile = options.expandFileReferences ?? false;
  const count = ordered.length;

  // Raw values first, the last definition of a name winning (Map keeps first-seen order).
  const values = new Map<string, string>();
  // References of each entry that expands some (sparse): most entries reference nothing.
  const referencesAt: Array<readonly string[] | undefined> = [];
  let referencing: number[] | undefined;
  for (let index = 0; index < count; index++) {
    const entry = ordered[index];
    if (!entry) continue;
    values.set(entry[0], entry[1].value);
    if (!entry[1].expand) continue;
    const references = referencedNames(entry[1].value);
    if (references.length > 0) {
      referencesAt[index] = references;
      (referencing ??= []).push(index);
    }
  }
  if (!referencing) return { values, errors: [] };

  const cycles = referenceCycles(ordered, referencing);
  if (cycles.length > 0) {
    const described = cycles.map(
      (cycle) => `[${cycle.map((i) => JSON.stringify(ordered[i]?.[0])).join(", ")}]`,
    );
    return { values, errors: [`circular variable reference detected: ${described.join(", ")}`] };
  }

  const needsExpansion = (index: number): boolean => referencesAt[index] !== undefined;
  // Only referenced names need their last entry: found by scanning back, remembered.
  const lastIndex = new Map<string, number | undefined>();
  const lastIndexOf = (name: string): number | undefined => {
    if (lastIndex.has(name)) return lastIndex.get(name);
    let found: number | undefined;
    for (let i = count - 1; i >= 0; i--) {
      if (ordered[i]?.[0] === name) {
        found = i;
        break;
      }
    }
    lastIndex.set(name, found);
    return found;
  };
  const targetOf = (index: number, name: string): number | undefined =>
    name === ordered[index]?.[0] ? previousIndex(ordered, index) : lastIndexOf(name);

  // Values are expanded dependencies first, with an explicit stack: chains can be long.
  const expanded = new Map<number, string>();
  const valueAt = (start: number): string => {
    if (!needsExpansion(start)) return ordered[start]?.[1].value ?? "";
    const known = expanded.get(start);
    if (known !== undefined) return known;
    const pending = [start];
    while (pending.length > 0) {
      const index = pending[pending.length - 1] ?? start;
      if (expanded.has(index) || !needsExpansion(index)) {
        pending.pop();
        continue;
      }
      const entry = ordered[index];
      if (!entry) {
        pending.pop();
        continue;
      }
      const before = pending.length;
      for (const name of referencesAt[index] ?? []) {
        const target = targetOf(index, name);
        if (target !== undefined && needsExpansion(target) && !expanded.has(target)) {
          pending.push(target);
        }
      }
      if (pending.length > before) continue;
      pending.pop();
      expanded.set(
        index,
        entry[1].value.replace(
          REFERENCE,
          (match, dollar?: string, braced?: string, percent?: string) => {
            const name = dollar ?? braced ?? percent;
            if (name === undefined) return match;
            const target = targetOf(index, name);
            const found = target === undefined ? undefined : ordered[target]?.[1];
            if (target === undefined || !found) return keepUndefined ? match : "";
            const value = expanded.get(target) ?? found.value;
            if (found.file) return expandFile ? value : match;
            if (!found.expand) return expandRaw ? found.value : match;
            return value;
          },
        ),
      );
    }
    return expanded.get(start) ?? ordered[start]?.[1].value ?? "";
  };

  for (const index of referencing) {
    const name = ordered[index]?.[0];
    if (name !== undefined && lastIndexOf(name) === index) values.set(name, valueAt(index));
  }
  return { values, errors: [] };
}

function previousIndex(
  ordered: ReadonlyArray<readonly [string, PipelineVariable]>,
  index: number,
): number | undefined {
  const name = ordered[index]?.[0];
  for (let i = index - 1; i >= 0; i--) if (ordered[i]?.[0] === name) return i;
  return undefined;
}

/**
 * Cycles among entries that reference others (only those can be part of one), found as
 * GitLab's TSort does: an entry depends on every entry of each name it references, and only
 * components of more than one entry are cycles (a variable referring to its own name is not).
 */
function referenceCycles(
  ordered: ReadonlyArray<readonly [string, PipelineVariable]>,
  referencing: number[],
): number[][] {
  const byName = new Map<string, number[]>();
  for (const index of referencing) {
    const name = ordered[index]?.[0] ?? "";
    const list = byName.get(name);
    if (list) list.push(index);
    else byName.set(name, [index]);
  }
  const children = new Map<number, number[]>();
  for (const index of referencing) {
    const targets = referencedNames(ordered[index]?.[1].value ?? "").flatMap(
      (name) => byName.get(name) ?? [],
    );
    children.set(index, targets);
  }

  const cycles: number[][] = [];
  const order = new Map<number, number>();
  const lowLink = new Map<number, number>();
  const onStack = new Set<number>();
  const stack: number[] = [];
  let counter = 0;
  const visit = (node: number): void => {
    order.set(node, counter);
    lowLink.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const child of children.get(node) ?? []) {
      if (!order.has(child)) {
        visit(child);
        lowLink.set(node, Math.min(lowLink.get(node) ?? 0, lowLink.get(child) ?? 0));
      } else if (onStack.has(child)) {
        lowLink.set(node, Math.min(lowLink.get(node) ?? 0, order.get(child) ?? 0));
      }
    }
    if (lowLink.get(node) === order.get(node)) {
      const component: number[] = [];
      let member: number | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) cycles.push(component.reverse());
    }
  };
  for (const index of referencing) if (!order.has(index)) visit(index);
  return cycles;
}
