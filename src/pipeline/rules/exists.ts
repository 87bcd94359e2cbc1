import { globMatcher, isLiteralGlob } from "./glob.ts";

/** GitLab stops comparing patterned globs after this many comparisons and calls it a match. */
export const MAX_EXISTS_PATTERN_COMPARISONS = 10_000;

const NESTED_WILDCARD = "**/*";

// The same file list is checked by many jobs: build its lookup set once.
const fileSets = new WeakMap<readonly string[], Set<string>>();

/**
 * `rules:exists` over the repository's files, as GitLab's Exists clause: globs without
 * wildcards compare exactly, `**` `/*.ext` compares the ending, other globs go through fnmatch
 * until the comparison budget is spent (then it is a match).
 */
export function filesMatchExists(files: readonly string[], globs: readonly string[]): boolean {
  const exact: string[] = [];
  const extensions: string[] = [];
  const patterns: string[] = [];
  for (const glob of globs) {
    if (isLiteralGlob(glob)) exact.push(glob);
    else {
      const rest = glob.startsWith(NESTED_WILDCARD) ? glob.slice(NESTED_WILDCARD.length) : glob;
      if (rest.startsWith(".") && !rest.includes("/") && isLiteralGlob(rest)) extensions.push(rest);
      else patterns.push(glob);
    }
  }
  if (exact.length > 0) {
    let set = fileSets.get(files);
    if (!set) {
      set = new Set(files);
      fileSets.set(files, set);
    }
    if (exact.some((glob) => set.has(glob))) return true;
  }
  if (extensions.length > 0 && files.some((file) => extensions.some((ext) => file.endsWith(ext)))) {
    return true;
  }
  let comparisons = 0;
  for (const glob of patterns) {
    const matches = globMatcher(glob);
    for (const file of files) {
      comparisons++;
      if (comparisons > MAX_EXISTS_PATTERN_COMPARISONS || matches(file)) return true;
    }
  }
  return false;
}
