import { readFile, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { JobFailure, type JobResult } from "../executors/executor.ts";
import { PierError } from "../errors.ts";
import type { JobArtifact } from "../job/spec.ts";
import { whenAllows, type ArtifactTransport, type UploadResult } from "../storage/artifacts.ts";
import { parseDotenv } from "../storage/dotenv.ts";
import { makeScratchDir } from "../storage/scratch-dirs.ts";
import { matchProjectPaths, type MatchedEntry } from "../storage/path-match.ts";
import { extractZip, writeZipAtomically } from "../storage/zip-archive.ts";
import { DependencyRefusedError, downloadArtifactsFile } from "./artifacts-download.ts";
import { writeGzipMembers } from "./artifacts-gzip.ts";
import {
  defaultArtifactRetry,
  uploadArtifactFile,
  type ArtifactLog,
  type ArtifactRetry,
} from "./artifacts-upload.ts";
import type { GitLabClient } from "./gitlab-client.ts";
import type { JobPayload } from "./runner-api.ts";

export interface RunnerArtifactTransport extends ArtifactTransport {
  /**
   * The job's result as GitLab should hear it: when GitLab refused a dependency's artifacts
   * the job failed for want of them, `missing_dependency_failure` (script_failure, as
   * gitlab-runner reports it, on a GitLab that does not list that reason).
   */
  settle(result: JobResult): JobResult;
}

/**
 * Artifacts in runner mode, as gitlab-runner moves them: each entry archived like pier does
 * locally (zip, or gzip members for reports, or the raw file) into a scratch file under the
 * state dir, then streamed to `POST /jobs/:id/artifacts`; dependencies' archives fetched with
 * their own tokens and extracted into the build dir. The lines go straight into the job's log
 * so retries show as they happen.
 */
export function runnerArtifactTransport(o: {
  client: Pick<GitLabClient, "base" | "tls">;
  job: Pick<JobPayload, "id" | "token" | "features">;
  log: ArtifactLog;
  stateDir: string;
  retry?: Partial<ArtifactRetry>;
}): RunnerArtifactTransport {
  const retry = { ...defaultArtifactRetry, ...o.retry };
  let refusedDependency = false;

  async function withScratch<T>(body: (dir: string) => Promise<T>): Promise<T> {
    const dir = await makeScratchDir(o.stateDir, "artifacts");
    try {
      return await body(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  return {
    async download(dependency, targetDir, signal) {
      if (dependency.artifacts_file === undefined || dependency.artifacts_file.filename === "") {
        return;
      }
      await withScratch(async (dir) => {
        const archive = join(dir, "artifacts.zip");
        try {
          await downloadArtifactsFile({
            apiBase: o.client.base,
            tls: o.client.tls,
            dependency,
            destination: archive,
            retry,
            log: o.log,
            ...(signal !== undefined && { signal }),
          });
        } catch (error) {
          if (!(error instanceof DependencyRefusedError)) throw error;
          refusedDependency = true;
          throw new JobFailure(error.message, "missing_dependency_failure", { cause: error });
        }
        await extractZip(archive, targetDir, signal);
      });
    },

    async upload(job, artifact, projectDir, signal) {
      const outcome = job.outcome ?? "success";
      // gitlab-runner's lines are written here as they happen; `reported` keeps the executor
      // from adding its local-mode "to the run's folder" line after them.
      const reported: UploadResult = {
        files: 0,
        skipped: !whenAllows(artifact.when, outcome),
        reported: true,
        warnings: [],
        errors: [],
        infos: [],
      };
      if (reported.skipped) return reported;
      const matched = await matchProjectPaths({
        projectDir,
        paths: artifact.paths,
        ...(artifact.exclude === undefined ? {} : { exclude: artifact.exclude }),
        untracked: artifact.untracked,
        ...(signal === undefined ? {} : { signal }),
      });
      for (const warning of matched.warnings) o.log.warning(warning);
      for (const info of matched.infos) o.log.println(info);
      if (matched.entries.length === 0) {
        o.log.error("No files to upload");
        return reported;
      }
      const regularFiles = matched.entries.filter((e) => e.stats.isFile()).map((e) => e.path);
      let dotenv: Record<string, string> | undefined;
      if (artifact.artifact_type === "dotenv") {
        dotenv = {};
        for (const path of regularFiles) {
          Object.assign(dotenv, parseDotenv(await readFile(join(projectDir, path), "utf8")));
        }
      }
      await withScratch(async (dir) => {
        const file = await archiveFor(artifact, projectDir, matched.entries, dir, signal);
        await uploadArtifactFile({
          apiBase: o.client.base,
          tls: o.client.tls,
          jobId: job.id,
          jobToken: o.job.token,
          file: file.path,
          size: file.size,
          filename: file.filename,
          type: artifact.artifact_type,
          format: artifact.artifact_format,
          ...(artifact.expire_in !== undefined && { expireIn: artifact.expire_in }),
          retry,
          log: o.log,
          ...(signal !== undefined && { signal }),
        });
      });
      return {
        ...reported,
        files: matched.entries.length,
        ...(dotenv !== undefined && { dotenv }),
        ...(artifact.artifact_type === "junit" && { junit: regularFiles }),
      };
    },

    settle(result) {
      if (!refusedDependency || result.status !== "failed") return result;
      const listed = o.job.features?.failure_reasons ?? [];
      const reason = listed.includes("missing_dependency_failure")
        ? "missing_dependency_failure"
        : "script_failure";
      return { ...result, failureReason: reason };
    },
  };
}

/** gitlab-runner names the upload after `artifacts:name` (default "default") plus the format's extension. */
function uploadName(artifact: JobArtifact, extension: string): string {
  const base = basename(artifact.name ?? "");
  return `${base === "" || base === "." || base === "/" ? "default" : base}${extension}`;
}

async function archiveFor(
  artifact: JobArtifact,
  projectDir: string,
  entries: MatchedEntry[],
  dir: string,
  signal: AbortSignal | undefined,
): Promise<{ path: string; size: number; filename: string }> {
  switch (artifact.artifact_format) {
    case "zip": {
      const path = join(dir, "archive.zip");
      const { bytes } = await writeZipAtomically(projectDir, entries, path, signal);
      return { path, size: bytes, filename: uploadName(artifact, ".zip") };
    }
    case "gzip": {
      const path = join(dir, "archive.gz");
      const { bytes } = await writeGzipMembers(projectDir, entries, path, signal);
      return { path, size: bytes, filename: uploadName(artifact, ".gz") };
    }
    case "raw": {
      const files = entries.filter((entry) => entry.stats.isFile());
      if (files.length !== 1) {
        throw new PierError(
          `the "raw" format uploads exactly one file, ${files.length} matched the paths`,
        );
      }
      const path = join(projectDir, files[0]!.path);
      return { path, size: (await stat(path)).size, filename: basename(files[0]!.path) };
    }
    default:
      throw new PierError(
        `artifact format "${String(artifact.artifact_format)}" is not supported by pier (zip, gzip, raw)`,
      );
  }
}
