import type { PipelineContext } from "../../../../src/pipeline/context/pipeline-context.ts";
import { RefNotFoundError, ZERO_SHA } from "../../../../src/pipeline/context/pipeline-context.ts";
import { filesMatchExists } from "../../../../src/pipeline/rules/exists.ts";

export interface FixtureOptions {
  refName?: string;
  refType?: "branch" | "tag";
  source?: string;
  /** Paths of the push; undefined = no diff base (changes always match). */
  pushed?: string[];
  /** Diffs by compare_to ref. */
  since?: Record<string, string[]>;
  files?: string[];
}

/** A pipeline context built from plain data, for testing the pure rule logic. */
export function contextFixture(options: FixtureOptions = {}): PipelineContext {
  const files = [...(options.files ?? [])].sort();
  return {
    repoDir: "/repo",
    isGitRepository: true,
    sha: "a".repeat(40),
    shortSha: "aaaaaaaa",
    beforeSha: options.pushed ? "b".repeat(40) : ZERO_SHA,
    refName: options.refName ?? "main",
    refType: options.refType ?? "branch",
    refProtected: false,
    tagMessage: "",
    defaultBranch: "main",
    source: options.source ?? "push",
    pipelineId: 1,
    pipelineIid: 1,
    createdAt: "2024-01-01T00:00:00Z",
    registry: "registry.pier.local",
    registryImage: "registry.pier.local/group/project",
    serverUrl: "https://gitlab.example.com",
    commit: {
      message: "m",
      title: "m",
      description: "",
      author: "A <a@x>",
      authorName: "A",
      authorEmail: "a@x",
      timestamp: "",
    },
    project: {
      name: "project",
      path: "group/project",
      namespace: "group",
      url: "https://gitlab.example.com/group/project",
      pathSlug: "group-project",
      dir: "/repo",
    },
    notes: [],
    changesAlwaysMatch: options.pushed === undefined,
    changedFiles: (compareTo) => {
      if (compareTo === undefined) return options.pushed ?? [];
      const paths = options.since?.[compareTo];
      if (!paths) throw new RefNotFoundError(compareTo);
      return paths;
    },
    repositoryFiles: () => files,
    fileExists: (globs) => filesMatchExists(files, globs),
  };
}
