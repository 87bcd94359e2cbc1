import { globMatcher, isLiteralGlob } from "./glob.ts";

/** GitLab stops comparing patterned globs after this many comparisons and calls it a match. */
export const MAX_EXISTS_PATTERN_COMPARISONS = 10_000;

const NESTED_WILDCARD = "**/*";

interface FileIndex {
  set: Set<string>;
  /** Whether a glob (or a `.ext` ending) matches some file. */
  found: Map<string, boolean>;
}

// Thousands of jobs check the same file list, often with the same globs: index it once.
const indexes = new WeakMap<readonly string[], FileIndex>();

function indexOf(files: readonly string[]): FileIndex {
  let index = indexes.get(files);
  if (!index) {
    index = { set: new Set(files), found: new Map() };
    indexes.set(files, index);
  }
  return index;
}

/**
 * `rules:exists` over the repository's files, with the results of GitLab's Exists clause:
 * globs without wildcards compare exactly, `**` `/*.ext` compares the ending, other globs go
 * through fnmatch, and once the comparison budget is spent it is a match.
 */
export function filesMatchExists(files: readonly string[], globs: readonly string[]): boolean {
  const index = indexOf(files);
  let patterns = 0;
  for (const glob of globs) {
    if (isLiteralGlob(glob)) {
      if (index.set.has(glob)) return true;
      continue;
    }
    const rest = glob.startsWith(NESTED_WILDCARD) ? glob.slice(NESTED_WILDCARD.length) : glob;
    const isExtension = rest.startsWith(".") && !rest.includes("/") && isLiteralGlob(rest);
    if (!isExtension) patterns++;
    const key = isExtension ? `ext:${rest}` : `glob:${glob}`;
    let found = index.found.get(key);
    if (found === undefined) {
      if (isExtension) found = files.some((file) => file.endsWith(rest));
      else {
        const matches = globMatcher(glob);
        found = files.some((file) => matches(file));
      }
      index.found.set(key, found);
    }
    if (found) return true;
  }
  // No match: GitLab would have given up after its budget of comparisons and said yes.
  return patterns * files.length > MAX_EXISTS_PATTERN_COMPARISONS;
}
