import type { JobCache } from "../job/spec.ts";

export type RestoreOutcome = "hit" | "fallback" | "miss" | "skipped";

export function cacheDirFor(_stateDir: string, _projectKey: string): string {
  throw new Error("not implemented");
}

export function restoreCache(_o: {
  cacheDir: string;
  cache: JobCache;
  projectDir: string;
  signal?: AbortSignal;
}): Promise<RestoreOutcome> {
  throw new Error("not implemented");
}

export function saveCache(_o: {
  cacheDir: string;
  cache: JobCache;
  projectDir: string;
  jobSucceeded: boolean;
  signal?: AbortSignal;
}): Promise<"saved" | "skipped"> {
  throw new Error("not implemented");
}

export function cacheKeyFromFiles(
  _projectDir: string,
  _files: string[],
  _prefix?: string,
): Promise<string> {
  throw new Error("not implemented");
}
