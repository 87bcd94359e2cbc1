import { PierError } from "../errors.ts";
import type { ArtifactTransport } from "../storage/artifacts.ts";

/**
 * Artifacts in runner mode, until pier uploads to and downloads from GitLab: uploads are
 * skipped with a warning in the job's log; a job that needs another job's artifacts fails
 * clearly rather than running without its files.
 */
export function runnerArtifactTransport(): ArtifactTransport {
  return {
    download(dep) {
      return Promise.reject(
        new PierError(
          `downloading artifacts of ${dep.name} (${dep.id}) from GitLab is not supported by pier yet`,
        ),
      );
    },
    upload() {
      return Promise.resolve({
        files: 0,
        skipped: true,
        warnings: ["pier does not upload artifacts to GitLab yet: skipped"],
        errors: [],
        infos: [],
      });
    },
  };
}
