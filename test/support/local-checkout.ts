import type { JobGitInfo } from "../../src/job/spec.ts";
import { prepareSources, type PrepareSourcesOptions } from "../../src/storage/sources.ts";

/** The job's git info as local mode hands it to the storage layer: branch main at `sha`. */
export function localGitInfo(sha: string): JobGitInfo {
  return {
    repo_url: "",
    ref: "main",
    sha,
    before_sha: "0000000000000000000000000000000000000000",
    ref_type: "branch",
    refspecs: [],
    depth: 0,
  };
}

/**
 * prepareSources in local mode: `repoDir` at `sha` into `o.target`, a full clone without the
 * working tree changes unless `o` says otherwise.
 */
export function localCheckout(
  repoDir: string,
  sha: string,
  o: Partial<PrepareSourcesOptions> & { target: string },
): Promise<void> {
  return prepareSources({
    repoDir,
    gitInfo: localGitInfo(sha),
    strategy: "clone",
    depth: 0,
    includeWorkingTreeChanges: false,
    ...o,
  });
}
