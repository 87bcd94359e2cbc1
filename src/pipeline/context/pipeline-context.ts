export interface PipelineContextOptions {
  repoDir: string;
  ref?: string;
  branch?: string;
  tag?: string;
  source?: string;
  pipelineId?: number;
  pipelineIid?: number;
  registry?: string;
  registryImage?: string;
  serverUrl?: string;
  now?: Date;
}

export interface PipelineContext {
  repoDir: string;
  sha: string;
  shortSha: string;
  beforeSha: string;
  refName: string;
  refType: "branch" | "tag";
  refProtected: boolean;
  defaultBranch: string;
  source: string;
  pipelineId: number;
  pipelineIid: number;
  createdAt: string;
  registry: string;
  registryImage: string;
  serverUrl: string;
  commit: {
    message: string;
    title: string;
    description: string;
    author: string;
    timestamp: string;
  };
  project: {
    name: string;
    path: string;
    namespace: string;
    url: string;
    pathSlug: string;
    dir: string;
  };
  /** Notes about how the context was derived (not a git repository, detached HEAD, …). */
  notes: string[];
  /** Files changed, for `rules:changes`. */
  changedFiles: (compareTo?: string) => string[];
  /** Whether any of the globs matches a file of the repository, for `rules:exists`. */
  fileExists: (globs: string[]) => boolean;
}

export function readPipelineContext(options: PipelineContextOptions): PipelineContext {
  void options;
  throw new Error("not implemented");
}
