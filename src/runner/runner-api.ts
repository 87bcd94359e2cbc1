import { PierError } from "../errors.ts";
import type { JobSpec } from "../job/spec.ts";
import { jsonBody, type ApiResponse, type GitLabClient } from "./gitlab-client.ts";

/** `info` in registration and job requests: who is asking and what it can do. */
export interface RunnerInfo {
  name: string;
  version: string;
  revision: string;
  platform: string;
  architecture: string;
  executor: string;
  shell: string;
  features: Record<string, boolean>;
}

export interface RunnerCredentials {
  id: number;
  token: string;
  /** ISO time, absent when the token never expires. */
  tokenExpiresAt?: string;
}

/** A job as GitLab hands it out, with the parts of the payload outside JobSpec pier reads. */
export type JobPayload = JobSpec & {
  features?: {
    failure_reasons?: string[];
    trace_sections?: boolean;
    token_mask_prefixes?: string[];
  };
};

export type JobRequestResult =
  | { kind: "job"; job: JobPayload }
  | { kind: "none"; lastUpdate?: string }
  /** 409, 429, 5xx after the client's retries, or a network failure: try again later. */
  | { kind: "retry"; status: number; delayMs?: number }
  /** 403 / 422: the token is not (or no longer) valid. */
  | { kind: "forbidden"; status: number };

export interface JobResponse {
  status: number;
  /** The `Job-Status` header: running, canceling, canceled, failed, success. */
  jobStatus?: string;
  /** The server's stored trace size from `Range: 0-N`. */
  rangeEnd?: number;
  /** Seconds from `X-GitLab-Trace-Update-Interval`. */
  updateIntervalSeconds?: number;
}

export interface JobUpdate {
  state: "running" | "success" | "failed";
  failureReason?: string;
  exitCode?: number;
  checksum?: string;
  bytesize?: number;
}

function credentialsFrom(response: ApiResponse, fallbackToken: string): RunnerCredentials {
  const body = jsonBody<{ id?: number; token?: string; token_expires_at?: string | null }>(
    response,
  );
  return {
    id: typeof body?.id === "number" ? body.id : 0,
    token: typeof body?.token === "string" && body.token !== "" ? body.token : fallbackToken,
    ...(typeof body?.token_expires_at === "string" && { tokenExpiresAt: body.token_expires_at }),
  };
}

function apiFailure(what: string, response: ApiResponse): PierError {
  const detail = jsonBody<{ message?: unknown }>(response)?.message;
  const text = detail === undefined ? "" : `: ${JSON.stringify(detail)}`;
  return new PierError(`${what} failed: HTTP ${response.status}${text}`);
}

/** GitLab answered that it does not know the runner's token (not: could not be asked). */
export class RunnerTokenRejectedError extends PierError {}

/** `POST /runners/verify`: checks a `glrt-` token (and registers this runner manager). */
export async function verifyRunner(
  client: GitLabClient,
  o: { token: string; systemId: string; info: RunnerInfo; signal?: AbortSignal },
): Promise<RunnerCredentials> {
  const response = await client.request("POST", "runners/verify", {
    json: { token: o.token, system_id: o.systemId, info: o.info },
    headers: { "RUNNER-TOKEN": o.token },
    ...(o.signal !== undefined && { signal: o.signal }),
  });
  if (response.status === 200) return credentialsFrom(response, o.token);
  if (response.status === 403) {
    throw new RunnerTokenRejectedError(
      "verifying the runner failed: the token is invalid (403 Forbidden)",
    );
  }
  if (response.status === 422) {
    throw new PierError("verifying the runner failed: the runner is orphaned in GitLab (422)");
  }
  throw apiFailure("verifying the runner", response);
}

export interface LegacyRegistration {
  registrationToken: string;
  description: string;
  tagList: string[];
  runUntagged: boolean;
  locked: boolean;
  maximumTimeout?: number;
  paused?: boolean;
  maintenanceNote?: string;
  accessLevel?: "not_protected" | "ref_protected";
}

/** `POST /runners` with a registration token (deprecated by GitLab, still in use). */
export async function registerRunner(
  client: GitLabClient,
  o: LegacyRegistration & { info: RunnerInfo; signal?: AbortSignal },
): Promise<RunnerCredentials> {
  const response = await client.request("POST", "runners", {
    json: {
      token: o.registrationToken,
      description: o.description,
      tag_list: o.tagList.join(","),
      run_untagged: o.runUntagged,
      locked: o.locked,
      ...(o.maximumTimeout !== undefined && { maximum_timeout: o.maximumTimeout }),
      ...(o.paused !== undefined && { paused: o.paused }),
      ...(o.maintenanceNote !== undefined && { maintenance_note: o.maintenanceNote }),
      ...(o.accessLevel !== undefined && { access_level: o.accessLevel }),
      info: o.info,
    },
    ...(o.signal !== undefined && { signal: o.signal }),
  });
  if (response.status === 201) return credentialsFrom(response, "");
  if (response.status === 403) {
    throw new PierError("registering the runner failed: the registration token is invalid (403)");
  }
  if (response.status === 410) {
    throw new PierError(
      "registering the runner failed: this GitLab no longer accepts registration tokens (410); create the runner in GitLab and use its glrt- token",
    );
  }
  throw apiFailure("registering the runner", response);
}

/** `DELETE /runners`: removes the runner from GitLab. False when GitLab no longer knows the token. */
export async function unregisterRunner(
  client: GitLabClient,
  o: { token: string; signal?: AbortSignal },
): Promise<boolean> {
  const response = await client.request("DELETE", "runners", {
    json: { token: o.token },
    headers: { "RUNNER-TOKEN": o.token },
    ...(o.signal !== undefined && { signal: o.signal }),
  });
  if (response.status === 204 || response.status === 200) return true;
  if (response.status === 403) return false;
  throw apiFailure("unregistering the runner", response);
}

/** `POST /jobs/request`: asks for one job; the caller echoes `lastUpdate` for long polling. */
export async function requestJob(
  client: GitLabClient,
  o: {
    token: string;
    systemId: string;
    info: RunnerInfo;
    lastUpdate?: string;
    signal?: AbortSignal;
  },
): Promise<JobRequestResult> {
  let response: ApiResponse;
  try {
    response = await client.request("POST", "jobs/request", {
      json: {
        token: o.token,
        system_id: o.systemId,
        ...(o.lastUpdate !== undefined && { last_update: o.lastUpdate }),
        info: o.info,
      },
      headers: { "RUNNER-TOKEN": o.token },
      // The loop has its own backoff and must never lose a job: one attempt per call.
      attempts: 1,
      ...(o.signal !== undefined && { signal: o.signal }),
    });
  } catch (error) {
    if (o.signal?.aborted === true) throw error;
    return { kind: "retry", status: 0 };
  }
  if (response.status === 201) {
    const job = jsonBody<JobPayload>(response);
    if (job === undefined || typeof job.id !== "number" || typeof job.token !== "string") {
      return { kind: "retry", status: 201 };
    }
    return { kind: "job", job };
  }
  if (response.status === 204) {
    const lastUpdate = response.headers.get("x-gitlab-last-update");
    return lastUpdate === null ? { kind: "none" } : { kind: "none", lastUpdate };
  }
  if (response.status === 403 || response.status === 422 || response.status === 401) {
    return { kind: "forbidden", status: response.status };
  }
  const retryAfter = response.headers.get("retry-after");
  return {
    kind: "retry",
    status: response.status,
    ...(retryAfter !== null && /^\d+$/.test(retryAfter) && { delayMs: Number(retryAfter) * 1000 }),
  };
}

function jobResponse(response: ApiResponse): JobResponse {
  const result: JobResponse = { status: response.status };
  const jobStatus = response.headers.get("job-status");
  if (jobStatus !== null) result.jobStatus = jobStatus;
  const range = /^\d+-(\d+)$/.exec(response.headers.get("range") ?? "");
  if (range !== null) result.rangeEnd = Number(range[1]);
  const interval = Number(response.headers.get("x-gitlab-trace-update-interval"));
  if (Number.isFinite(interval) && interval > 0) result.updateIntervalSeconds = interval;
  return result;
}

/** `PATCH /jobs/:id/trace`: appends `bytes` at `offset` of the job's log. */
export async function patchTrace(
  client: GitLabClient,
  o: { jobId: number; jobToken: string; offset: number; bytes: Buffer; signal?: AbortSignal },
): Promise<JobResponse> {
  const response = await client.request("PATCH", `jobs/${o.jobId}/trace`, {
    body: o.bytes,
    headers: {
      "JOB-TOKEN": o.jobToken,
      "Content-Type": "text/plain",
      "Content-Range": `${o.offset}-${o.offset + o.bytes.length - 1}`,
    },
    attempts: 1,
    ...(o.signal !== undefined && { signal: o.signal }),
  });
  return jobResponse(response);
}

/** `PUT /jobs/:id`: a keep-alive (`running`) or the final state. */
export async function updateJob(
  client: GitLabClient,
  o: { jobId: number; jobToken: string; systemId: string; update: JobUpdate; signal?: AbortSignal },
): Promise<JobResponse> {
  const { update } = o;
  const response = await client.request("PUT", `jobs/${o.jobId}`, {
    json: {
      token: o.jobToken,
      system_id: o.systemId,
      state: update.state,
      ...(update.failureReason !== undefined && { failure_reason: update.failureReason }),
      ...(update.exitCode !== undefined && { exit_code: update.exitCode }),
      ...(update.checksum !== undefined && { checksum: update.checksum }),
      ...((update.checksum !== undefined || update.bytesize !== undefined) && {
        output: {
          ...(update.checksum !== undefined && { checksum: update.checksum }),
          ...(update.bytesize !== undefined && { bytesize: update.bytesize }),
        },
      }),
    },
    headers: { "JOB-TOKEN": o.jobToken },
    attempts: 1,
    ...(o.signal !== undefined && { signal: o.signal }),
  });
  return jobResponse(response);
}
