import type { JobArtifact, JobDependency } from "../job/spec.ts";

export type JobOutcome = "success" | "failed";

export interface UploadResult {
  /** Number of entries (files and directories) archived; 0 when nothing matched or skipped by `when`. */
  files: number;
  /** True when `artifacts:when` excluded this upload for the job's outcome. */
  skipped: boolean;
  /** gitlab-runner style warning lines, e.g. "WARNING: foo: no matching files". */
  warnings: string[];
  dotenv?: Record<string, string>;
  junit?: string[];
}

export interface ArtifactTransport {
  download(dep: JobDependency, targetDir: string, signal?: AbortSignal): Promise<void>;
  upload(
    job: { id: number; name: string; outcome?: JobOutcome },
    artifact: JobArtifact,
    projectDir: string,
    signal?: AbortSignal,
  ): Promise<UploadResult>;
}

export function localArtifactTransport(_o: { runDir: string }): ArtifactTransport {
  throw new Error("not implemented");
}

export function parseDotenv(_text: string): Record<string, string> {
  throw new Error("not implemented");
}

export function copyArtifactsOut(_o: { runDir: string; to: string }): Promise<void> {
  throw new Error("not implemented");
}
