import { randomBytes } from "node:crypto";
import type { JobDependency } from "../../../src/job/spec.ts";
import type { ExtraRoute } from "./fake-gitlab.ts";
import { parseMultipart } from "./multipart.ts";

export interface StoredArtifact {
  type: string;
  format: string;
  filename: string;
  expireIn?: string;
  bytes: Buffer;
}

/** What the artifact routes need to know about the stand-in's jobs. */
export interface ArtifactJobs {
  readonly url: string;
  readonly violations: string[];
  readonly jobs: ReadonlyMap<
    number,
    {
      id: number;
      token: string;
      state: string;
      artifacts: StoredArtifact[];
      payload: { dependencies: JobDependency[] };
    }
  >;
}

/** GitLab's artifact file types and the formats it accepts for each (Ci::JobArtifact). */
const FORMATS_BY_TYPE: Record<string, string[]> = {
  archive: ["zip"],
  metadata: ["gzip"],
  junit: ["gzip"],
  dotenv: ["gzip"],
  cobertura: ["gzip"],
  codequality: ["raw", "gzip"],
  sast: ["raw"],
  dependency_scanning: ["raw"],
  container_scanning: ["raw"],
  secret_detection: ["raw"],
  terraform: ["raw"],
  accessibility: ["raw"],
  metrics: ["gzip"],
  annotations: ["gzip"],
  requirements: ["raw"],
  requirements_v2: ["raw"],
  cyclonedx: ["gzip"],
  api_fuzzing: ["raw"],
  coverage_fuzzing: ["raw"],
  browser_performance: ["raw"],
  load_performance: ["raw"],
  lsif: ["zip"],
};

const MAGIC: Record<string, Buffer[]> = {
  zip: [Buffer.from("PK\x03\x04", "latin1"), Buffer.from("PK\x05\x06", "latin1")],
  gzip: [Buffer.from([0x1f, 0x8b])],
};

/**
 * `POST /jobs/:id/artifacts` and `GET /jobs/:id/artifacts` as GitLab serves them to runners:
 * the upload must carry the job's own token and a well formed multipart body whose type and
 * format GitLab accepts (violations otherwise); the download must carry the token GitLab
 * handed out for that dependency, and with `direct_download=true` is redirected to a
 * storage URL, as object storage does.
 */
export function artifactRoutes(fake: ArtifactJobs): ExtraRoute {
  const storage = new Map<string, Buffer>();
  return ({ record, url, send, json }) => {
    const stored = /^\/_storage\/([0-9a-f]+)$/.exec(url.pathname);
    if (stored !== null && record.method === "GET") {
      const bytes = storage.get(stored[1]!);
      if (bytes === undefined) send(404);
      else send(200, { "Content-Type": "application/zip" }, bytes);
      return true;
    }
    const match = /^\/api\/v4\/jobs\/(\d+)\/artifacts$/.exec(url.pathname);
    if (match === null) return false;
    const id = Number(match[1]);
    const job = fake.jobs.get(id);
    const where = `${record.method} /jobs/${id}/artifacts`;
    if (job === undefined) {
      json(404, { message: "404 Job Not Found" });
      return true;
    }
    const token = record.headers["job-token"];

    if (record.method === "POST") {
      if (token !== job.token) {
        fake.violations.push(`${where}: JOB-TOKEN is not the job's own token`);
        json(403, { message: "403 Forbidden" });
        return true;
      }
      if (job.state !== "running" && job.state !== "canceling") {
        json(403, { message: "403 Forbidden - Job is not running" });
        return true;
      }
      const parsed = parseMultipart(record.headers["content-type"], record.body);
      if ("problem" in parsed) {
        fake.violations.push(`${where}: ${parsed.problem}`);
        json(400, { message: `400 Bad request - ${parsed.problem}` });
        return true;
      }
      const field = (name: string): string | undefined =>
        url.searchParams.get(name) ??
        parsed.parts.find((part) => part.name === name)?.body.toString("utf8");
      const files = parsed.parts.filter((part) => part.name === "file");
      const file = files[0];
      const type = field("artifact_type") ?? "archive";
      const format = field("artifact_format") ?? "zip";
      const problem =
        files.length !== 1 || file?.filename === undefined || file.filename === ""
          ? "exactly one `file` part with a filename is required"
          : FORMATS_BY_TYPE[type] === undefined
            ? `artifact_type "${type}" is not one of GitLab's`
            : !FORMATS_BY_TYPE[type].includes(format)
              ? `artifact_format "${format}" is not accepted for "${type}"`
              : (MAGIC[format]?.every(
                    (magic) => !file.body.subarray(0, magic.length).equals(magic),
                  ) ?? false)
                ? `the file is not ${format}`
                : job.artifacts.some((artifact) => artifact.type === type)
                  ? `"${type}" was already uploaded`
                  : undefined;
      if (problem !== undefined || file?.filename === undefined) {
        fake.violations.push(`${where}: ${problem}`);
        json(400, { message: `400 Bad request - ${problem}` });
        return true;
      }
      const expireIn = field("expire_in");
      job.artifacts.push({
        type,
        format,
        filename: file.filename,
        ...(expireIn !== undefined && { expireIn }),
        bytes: Buffer.from(file.body),
      });
      json(201, { id: job.id, artifact_type: type });
      return true;
    }

    if (record.method === "GET") {
      const handedOut = [...fake.jobs.values()].flatMap((other) =>
        other.payload.dependencies.filter((dep) => dep.id === id).map((dep) => dep.token),
      );
      if (typeof token !== "string" || !handedOut.includes(token)) {
        fake.violations.push(`${where}: JOB-TOKEN is not the token given for this dependency`);
        json(403, { message: "403 Forbidden" });
        return true;
      }
      const archive = job.artifacts.find((artifact) => artifact.type === "archive");
      if (archive === undefined) {
        json(404, { message: "404 Not Found" });
        return true;
      }
      if (url.searchParams.get("direct_download") === "true") {
        const key = randomBytes(8).toString("hex");
        storage.set(key, archive.bytes);
        send(302, { Location: new URL(`_storage/${key}`, fake.url).href });
        return true;
      }
      send(200, { "Content-Type": "application/zip" }, archive.bytes);
      return true;
    }
    return false;
  };
}
