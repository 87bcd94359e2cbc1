import { lstat, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ArtifactWhen, JobArtifact, JobDependency } from "../job/spec.ts";
import { PierError } from "../errors.ts";
import { parseDotenv } from "./dotenv.ts";
import { parseExpireIn } from "./expire-in.ts";
import { matchProjectPaths } from "./path-match.ts";
import { extractZip, writeZipAtomically } from "./zip-archive.ts";

export { parseDotenv } from "./dotenv.ts";

export type JobOutcome = "success" | "failed";

export interface UploadResult {
  /** Entries (files, directories, symlinks) archived; 0 when nothing matched or `when` skipped it. */
  files: number;
  /** True when `artifacts:when` rules this upload out for the job's outcome. */
  skipped: boolean;
  /** gitlab-runner's warning texts, without the "WARNING: " prefix. */
  warnings: string[];
  /** gitlab-runner's error texts ("No files to upload"), without the "ERROR: " prefix; not a job failure. */
  errors: string[];
  /** gitlab-runner's informational lines ("found N matching artifact files and directories"). */
  infos: string[];
  /** The transport wrote its own lines about the upload: the executor adds none of its own. */
  reported?: boolean;
  /** `reports:dotenv`: the variables later jobs receive. */
  dotenv?: Record<string, string>;
  /** `reports:junit`: the report files, relative to the project dir (also kept in junit.zip). */
  junit?: string[];
}

export interface ArtifactTransport {
  /** Extracts a dependency's "archive" artifacts into the project dir; nothing when it has none. */
  download(dep: JobDependency, targetDir: string, signal?: AbortSignal): Promise<void>;
  /**
   * Archives one artifacts entry of a job. `job.outcome` (default "success") decides `when`.
   * Throws a PierError when a dotenv report breaks GitLab's rules (GitLab rejects the upload).
   */
  upload(
    job: { id: number; name: string; outcome?: JobOutcome },
    artifact: JobArtifact,
    projectDir: string,
    signal?: AbortSignal,
  ): Promise<UploadResult>;
}

/** What is stored next to each archive, `<artifact_type>.json`. */
export interface ArtifactMetadata {
  job_id: number;
  job_name: string;
  name: string;
  artifact_type: string;
  /** The format GitLab asked for; pier always stores a zip. */
  artifact_format: string;
  expire_in?: string;
  /** ISO time, absent for "never" or an unreadable expire_in. */
  expire_at?: string;
  created_at: string;
  files: number;
  size: number;
}

/** `runs/<pipeline id>/artifacts/<job id>/` */
export function jobArtifactsDir(runDir: string, jobId: number): string {
  return join(runDir, "artifacts", String(jobId));
}

export function whenAllows(when: ArtifactWhen, outcome: JobOutcome): boolean {
  return when === "always" || (when === "on_success") === (outcome === "success");
}

/** Local mode: artifacts live in the run's folder, `runs/<id>/artifacts/<job id>/<artifact_type>.zip`. */
export function localArtifactTransport(o: { runDir: string }): ArtifactTransport {
  return {
    async download(dep, targetDir, signal) {
      const archive = join(jobArtifactsDir(o.runDir, dep.id), "archive.zip");
      const exists = await stat(archive).then(
        () => true,
        () => false,
      );
      if (!exists) {
        if (dep.artifacts_file !== undefined) {
          throw new PierError(
            `artifacts of job ${dep.name} (${String(dep.id)}) are missing: ${archive}`,
          );
        }
        return;
      }
      await extractZip(archive, targetDir, signal);
    },

    async upload(job, artifact, projectDir, signal) {
      const outcome = job.outcome ?? "success";
      if (!whenAllows(artifact.when, outcome)) {
        return { files: 0, skipped: true, warnings: [], errors: [], infos: [] };
      }
      const matched = await matchProjectPaths({
        projectDir,
        paths: artifact.paths,
        ...(artifact.exclude === undefined ? {} : { exclude: artifact.exclude }),
        untracked: artifact.untracked,
        ...(signal === undefined ? {} : { signal }),
      });
      const result: UploadResult = {
        files: matched.entries.length,
        skipped: false,
        warnings: matched.warnings,
        errors: [],
        infos: matched.infos,
      };
      if (matched.entries.length === 0) {
        result.errors.push("No files to upload");
        return result;
      }
      const regularFiles = matched.entries.filter((e) => e.stats.isFile()).map((e) => e.path);
      if (artifact.artifact_type === "dotenv") {
        const variables: Record<string, string> = {};
        for (const path of regularFiles) {
          Object.assign(variables, parseDotenv(await readFile(join(projectDir, path), "utf8")));
        }
        result.dotenv = variables;
      } else if (artifact.artifact_type === "junit") {
        result.junit = regularFiles;
      }

      const dir = jobArtifactsDir(o.runDir, job.id);
      const { bytes } = await writeZipAtomically(
        projectDir,
        matched.entries,
        join(dir, `${artifact.artifact_type}.zip`),
        signal,
      );
      const now = new Date();
      const expiresIn =
        artifact.expire_in === undefined ? undefined : parseExpireIn(artifact.expire_in);
      const metadata: ArtifactMetadata = {
        job_id: job.id,
        job_name: job.name,
        name: artifact.name ?? "artifacts",
        artifact_type: artifact.artifact_type,
        artifact_format: artifact.artifact_format,
        ...(artifact.expire_in === undefined ? {} : { expire_in: artifact.expire_in }),
        ...(typeof expiresIn === "number"
          ? { expire_at: new Date(now.getTime() + expiresIn * 1000).toISOString() }
          : {}),
        created_at: now.toISOString(),
        files: matched.entries.length,
        size: bytes,
      };
      await writeFile(
        join(dir, `${artifact.artifact_type}.json`),
        `${JSON.stringify(metadata, null, 2)}\n`,
      );
      if (result.dotenv !== undefined) {
        await writeFile(
          join(dir, "dotenv.variables.json"),
          `${JSON.stringify(result.dotenv, null, 2)}\n`,
        );
      }
      return result;
    },
  };
}

/** For building a JobDependency: the dependency's "archive" artifacts, if it uploaded any. */
export async function artifactsFileOf(
  runDir: string,
  jobId: number,
): Promise<{ filename: string; size: number } | undefined> {
  try {
    const metadata = JSON.parse(
      await readFile(join(jobArtifactsDir(runDir, jobId), "archive.json"), "utf8"),
    ) as ArtifactMetadata;
    return { filename: `${metadata.name}.zip`, size: metadata.size };
  } catch {
    return undefined;
  }
}

/** Every archive of the run, by job: metadata plus the zip's path, oldest job first. */
export async function listRunArtifacts(
  runDir: string,
): Promise<(ArtifactMetadata & { zip: string })[]> {
  const root = join(runDir, "artifacts");
  const jobDirs = await readdir(root).catch(() => []);
  const ids = jobDirs
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => a - b);
  const all: (ArtifactMetadata & { zip: string })[] = [];
  for (const id of ids) {
    const dir = jobArtifactsDir(runDir, id);
    for (const file of (await readdir(dir))
      .filter((f) => f.endsWith(".json") && f !== "dotenv.variables.json")
      .sort()) {
      const metadata = JSON.parse(await readFile(join(dir, file), "utf8")) as ArtifactMetadata;
      const zip = join(dir, `${metadata.artifact_type}.zip`);
      if (
        await lstat(zip).then(
          (s) => s.isFile(),
          () => false,
        )
      )
        all.push({ ...metadata, zip });
    }
  }
  return all;
}

/**
 * `--artifacts-to DIR`: each job's artifacts (archive and reports) extracted into
 * `DIR/<job name>/`; when a job ran more than once (retries) the last attempt wins.
 */
export async function copyArtifactsOut(o: {
  runDir: string;
  to: string;
  signal?: AbortSignal;
}): Promise<void> {
  await mkdir(o.to, { recursive: true });
  const all = await listRunArtifacts(o.runDir);
  const lastAttempt = new Map<string, number>();
  for (const a of all)
    lastAttempt.set(a.job_name, Math.max(a.job_id, lastAttempt.get(a.job_name) ?? 0));
  for (const artifact of all.filter((a) => lastAttempt.get(a.job_name) === a.job_id)) {
    await extractZip(artifact.zip, join(o.to, safeDirName(artifact.job_name)), o.signal);
  }
}

function safeDirName(name: string): string {
  const cleaned = name.replace(/[/\\\0]/g, "_").trim();
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned;
}
