import type { JobGitInfo } from "../job/spec.ts";

export type GitStrategy = "clone" | "fetch" | "none" | "empty";

export interface PrepareSourcesOptions {
  repoDir?: string;
  gitInfo: JobGitInfo;
  strategy: GitStrategy;
  depth: number;
  target: string;
  includeWorkingTreeChanges: boolean;
  signal?: AbortSignal;
}

export function prepareSources(_o: PrepareSourcesOptions): Promise<void> {
  throw new Error("not implemented");
}
