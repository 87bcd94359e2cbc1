export interface MatchedPaths {
  /** Paths relative to the project dir, directories included, sorted, "/" separated. */
  paths: string[];
  /** One entry per pattern that matched nothing. */
  unmatched: string[];
}

export function matchProjectPaths(_o: {
  projectDir: string;
  paths: string[];
  exclude?: string[];
  untracked?: boolean;
}): Promise<MatchedPaths> {
  throw new Error("not implemented");
}
