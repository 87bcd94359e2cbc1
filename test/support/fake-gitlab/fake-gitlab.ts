import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { JobDependency } from "../../../src/job/spec.ts";
import { artifactRoutes, type StoredArtifact } from "./artifact-routes.ts";
import { serveGit } from "./git-http-backend.ts";
import { jobPayload, type JobRequestOptions } from "./job-payload.ts";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  status: number;
  /** Date.now() when the request arrived. */
  receivedAt: number;
  /** Date.now() when it was answered (or its connection dropped); undefined while held. */
  answeredAt?: number;
  /** The connection was dropped instead of sending `status` (an injected fault). */
  dropped?: boolean;
  /** True when a job request was held by long polling. */
  held?: boolean;
}

export type RemoteJobState =
  "pending" | "running" | "canceling" | "canceled" | "success" | "failed";

export interface FinalUpdate {
  state: string;
  failure_reason?: string;
  exit_code?: number;
  checksum?: string;
  output?: { checksum?: string; bytesize?: number };
}

export interface FakeJob {
  id: number;
  token: string;
  payload: ReturnType<typeof jobPayload>;
  state: RemoteJobState;
  trace: Buffer;
  /** The accepted final `PUT /jobs/:id` body. */
  final?: FinalUpdate;
  /** Answer the final PUT with 202 this many more times. */
  finalAcceptsPending: number;
  assignedAt?: number;
  finishedAt?: number;
  /** What the runner uploaded with `POST /jobs/:id/artifacts`, by artifact type. */
  artifacts: StoredArtifact[];
}

/** A one-shot answer for the next request that matches. */
export interface InjectedResponse {
  method: string;
  path: RegExp;
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /**
   * Drop the connection instead of answering: "unseen" before the request is handled,
   * "handled" after the stand-in has acted on it (the runner never learns that it did).
   */
  drop?: "unseen" | "handled";
}

interface RegisteredRunner {
  id: number;
  token: string;
  description: string;
  tagList: string[];
  systemIds: Set<string>;
}

/** What an extra route sees: the recorded request and ways to answer it. */
export interface RouteContext {
  record: RecordedRequest;
  url: URL;
  send: (status: number, headers?: Record<string, string>, text?: string | Buffer) => void;
  json: (status: number, value: unknown, headers?: Record<string, string>) => void;
}

/** Answers a request it knows and returns true, or returns false to let others look. */
export type ExtraRoute = (context: RouteContext) => boolean | Promise<boolean>;

/** Features pier must advertise in `info.features` because it implements them. */
const REQUIRED_FEATURES = [
  "variables",
  "refspecs",
  "masking",
  "raw_variables",
  "multi_build_steps",
  "trace_reset",
  "trace_checksum",
  "trace_size",
  "cancelable",
  "return_exit_code",
];

const JOB_STATUS_FOR: Record<RemoteJobState, string> = {
  pending: "pending",
  running: "running",
  canceling: "canceling",
  canceled: "canceled",
  success: "success",
  failed: "failed",
};

/**
 * A GitLab API stand-in that follows GitLab's runner protocol (registration, job request
 * with long polling, trace PATCH with Content-Range, final PUT with checksum), checks every
 * request the runner makes, records it, and can inject faults. It serves the project's git
 * repository over smart HTTP behind the job token.
 */
export class FakeGitLab {
  readonly requests: RecordedRequest[] = [];
  /** Protocol rules the runner broke; a test expects this to stay empty. */
  readonly violations: string[] = [];
  readonly jobs = new Map<number, FakeJob>();
  readonly runners = new Map<string, RegisteredRunner>();
  readonly registrationToken = `GR1348941${randomBytes(10).toString("hex")}`;
  /** Every Nth API request (git excluded) answers 500 before it is looked at. */
  failEveryNth = 0;
  /** How long `POST /jobs/request` holds an echoed `last_update` while the queue is unchanged. */
  longPollMs = 300;
  /** What 202 answers ask for, in seconds. */
  traceUpdateInterval = 1;
  /** Answer every new job's final PUT with 202 this many times first. */
  finalAcceptsPendingPerJob = 0;
  /** Most jobs assigned and not finished at one time. */
  maxRunning = 0;
  readonly #injected: InjectedResponse[] = [];
  readonly #routes: ExtraRoute[] = [];
  readonly #queue: FakeJob[] = [];
  readonly #queueWaiters = new Set<() => void>();
  readonly #changeWaiters = new Set<() => void>();
  readonly #root: string;
  readonly #server: Server;
  #queueVersion = 1;
  #apiRequests = 0;
  #nextJobId = 1000;
  #nextRunnerId = 40;
  #url = "";
  #project: { path: string; sha: string; ref: string } | undefined;

  private constructor() {
    this.#root = mkdtempSync(join(tmpdir(), "pier-fake-gitlab-"));
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => {
        this.violations.push(`fake gitlab crashed: ${String(error)}`);
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
  }

  static async start(): Promise<FakeGitLab> {
    const fake = new FakeGitLab();
    fake.addRoute(artifactRoutes(fake));
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    const { port } = fake.#server.address() as AddressInfo;
    fake.#url = `http://127.0.0.1:${port}/`;
    return fake;
  }

  get url(): string {
    return this.#url;
  }

  async close(): Promise<void> {
    for (const wake of this.#queueWaiters) wake();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    rmSync(this.#root, { recursive: true, force: true });
  }

  /** Publishes a working repository (its `main` branch) as the project the jobs clone. */
  addProject(projectPath: string, workingRepository: string): void {
    const bare = join(this.#root, `${projectPath}.git`);
    execFileSync("git", ["clone", "-q", "--bare", workingRepository, bare]);
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: bare }).toString().trim();
    this.#project = { path: projectPath, sha, ref: "main" };
  }

  /** A runner created in GitLab's UI: returns its `glrt-` authentication token. */
  createRunner(description = "created in the UI"): string {
    const token = `glrt-t1_${randomBytes(10).toString("hex")}`;
    this.runners.set(token, {
      id: this.#nextRunnerId++,
      token,
      description,
      tagList: [],
      systemIds: new Set(),
    });
    return token;
  }

  /** Queues a job for the project; the next runner asking gets it. */
  queueJob(options: JobRequestOptions): FakeJob {
    const project = this.#project;
    if (project === undefined) throw new Error("addProject first");
    const id = this.#nextJobId++;
    const payload = jobPayload({
      ...options,
      id,
      baseUrl: this.#url,
      projectPath: project.path,
      sha: project.sha,
      ref: project.ref,
    });
    const job: FakeJob = {
      id,
      token: payload.token,
      payload,
      state: "pending",
      trace: Buffer.alloc(0),
      finalAcceptsPending: this.finalAcceptsPendingPerJob,
      artifacts: [],
    };
    this.jobs.set(id, job);
    this.#queue.push(job);
    this.#queueVersion += 1;
    for (const wake of this.#queueWaiters) wake();
    return job;
  }

  /**
   * How a later job's payload names `job` in `dependencies`: its id, name and token, and its
   * archive (`artifacts_file`) when it uploaded one.
   */
  dependencyOn(job: FakeJob): JobDependency {
    const archive = job.artifacts.find((artifact) => artifact.type === "archive");
    return {
      id: job.id,
      name: String(job.payload.job_info["name"]),
      token: job.token,
      ...(archive !== undefined && {
        artifacts_file: { filename: archive.filename, size: archive.bytes.length },
      }),
    };
  }

  /** `canceling`: GitLab asks the runner to stop the script and run after_script; `canceled`: abort. */
  cancelJob(id: number, how: "canceling" | "canceled"): void {
    const job = this.#job(id);
    job.state = how;
    if (how === "canceled") job.finishedAt = Date.now();
    this.#changed();
  }

  /** Answers the next matching request with this instead of the protocol. */
  inject(response: InjectedResponse): void {
    this.#injected.push(response);
  }

  /** Resolves when the predicate holds (checked after every request). */
  async waitFor(predicate: () => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error("fake gitlab: timed out waiting");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.#changeWaiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Jobs assigned to a runner and not finished. */
  runningCount(): number {
    let count = 0;
    for (const job of this.jobs.values()) {
      if (job.assignedAt !== undefined && job.finishedAt === undefined) count += 1;
    }
    return count;
  }

  #changed(): void {
    this.maxRunning = Math.max(this.maxRunning, this.runningCount());
    const waiters = [...this.#changeWaiters];
    this.#changeWaiters.clear();
    for (const wake of waiters) wake();
  }

  #job(id: number): FakeJob {
    const job = this.jobs.get(id);
    if (job === undefined) throw new Error(`no job ${id}`);
    return job;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", this.#url);
    const path = url.pathname;
    if (path.includes(".git/") && this.#project !== undefined) {
      this.#serveRepository(request, response, url);
      return;
    }
    const receivedAt = Date.now();
    const body = await readBody(request);
    const record: RecordedRequest = {
      receivedAt,
      method: request.method ?? "",
      path,
      headers: request.headers,
      body,
      status: 0,
    };
    this.requests.push(record);
    let dropAnswer = false;
    const send = (
      status: number,
      headers: Record<string, string> = {},
      text: string | Buffer = "",
    ): void => {
      record.status = status;
      record.answeredAt = Date.now();
      if (dropAnswer) {
        record.dropped = true;
        request.socket.destroy();
        this.#changed();
        return;
      }
      response.writeHead(status, headers);
      response.end(text);
      this.#changed();
    };
    const json = (status: number, value: unknown, headers: Record<string, string> = {}): void =>
      send(status, { "Content-Type": "application/json", ...headers }, JSON.stringify(value));

    this.#checkCommonHeaders(record);
    this.#apiRequests += 1;
    if (this.failEveryNth > 0 && this.#apiRequests % this.failEveryNth === 0) {
      send(500, {}, "injected failure");
      return;
    }
    const injectedAt = this.#injected.findIndex(
      (item) => item.method === record.method && item.path.test(path),
    );
    if (injectedAt >= 0) {
      const [item] = this.#injected.splice(injectedAt, 1);
      if (item!.drop === "handled") {
        dropAnswer = true;
      } else {
        if (item!.drop === "unseen") dropAnswer = true;
        send(item!.status, item!.headers ?? {}, item!.body ?? "");
        return;
      }
    }

    const route = `${record.method} ${path}`;
    if (route === "POST /api/v4/runners/verify") return this.#verify(record, json);
    if (route === "POST /api/v4/runners") return this.#register(record, json);
    if (route === "DELETE /api/v4/runners") return this.#unregister(record, send);
    if (route === "POST /api/v4/jobs/request") return this.#requestJob(record, json, send);
    const trace = /^\/api\/v4\/jobs\/(\d+)\/trace$/.exec(path);
    if (trace !== null && record.method === "PATCH") {
      return this.#appendTrace(record, Number(trace[1]), send);
    }
    const update = /^\/api\/v4\/jobs\/(\d+)$/.exec(path);
    if (update !== null && record.method === "PUT") {
      return this.#updateJob(record, Number(update[1]), json);
    }
    for (const extra of this.#routes) {
      if (await extra({ record, url, send, json })) return;
    }
    this.violations.push(`unexpected request ${route}`);
    send(404);
  }

  /** Serves more of GitLab's API (artifacts, token reset, …) from modules of their own. */
  addRoute(route: ExtraRoute): void {
    this.#routes.push(route);
  }

  #checkCommonHeaders(record: RecordedRequest): void {
    const where = `${record.method} ${record.path}`;
    const requestId = record.headers["x-request-id"];
    if (typeof requestId !== "string" || !/^[0-9a-f]{32}$/.test(requestId)) {
      this.violations.push(`${where}: X-Request-Id missing or not 32 hex`);
    }
    if (!/^pier \S+/.test(record.headers["user-agent"] ?? "")) {
      this.violations.push(`${where}: User-Agent is not "pier <version>"`);
    }
  }

  #parseJson(record: RecordedRequest): Record<string, unknown> | undefined {
    try {
      return JSON.parse(record.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      this.violations.push(`${record.method} ${record.path}: body is not JSON`);
      return undefined;
    }
  }

  #verify(record: RecordedRequest, json: (status: number, value: unknown) => void): void {
    const body = this.#parseJson(record);
    const runner = this.runners.get(String(body?.["token"]));
    if (runner === undefined) return json(403, { message: "403 Forbidden" });
    const systemId = stringField(body, "system_id");
    if (!/^[sr]_[0-9a-zA-Z]{12}$/.test(systemId)) {
      this.violations.push(`verify: bad system_id "${systemId}"`);
    }
    runner.systemIds.add(systemId);
    json(200, { id: runner.id, token: runner.token, token_expires_at: null });
  }

  #register(record: RecordedRequest, json: (status: number, value: unknown) => void): void {
    const body = this.#parseJson(record);
    if (body?.["token"] !== this.registrationToken) return json(403, { message: "403 Forbidden" });
    const token = randomBytes(10).toString("hex");
    const tagList = typeof body["tag_list"] === "string" ? body["tag_list"].split(",") : [];
    this.runners.set(token, {
      id: this.#nextRunnerId++,
      token,
      description: stringField(body, "description"),
      tagList: tagList.map((tag) => tag.trim()).filter((tag) => tag !== ""),
      systemIds: new Set(),
    });
    json(201, { id: this.runners.get(token)!.id, token, token_expires_at: null });
  }

  #unregister(record: RecordedRequest, send: (status: number) => void): void {
    const body = this.#parseJson(record);
    const token = String(body?.["token"]);
    if (!this.runners.delete(token)) return send(403);
    send(204);
  }

  async #requestJob(
    record: RecordedRequest,
    json: (status: number, value: unknown) => void,
    send: (status: number, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const body = this.#parseJson(record);
    const runner = this.runners.get(String(body?.["token"]));
    if (runner === undefined) return send(403);
    const info = body?.["info"] as { features?: Record<string, unknown> } | undefined;
    const missing = REQUIRED_FEATURES.filter((name) => info?.features?.[name] !== true);
    if (missing.length > 0)
      this.violations.push(`jobs/request: features missing ${missing.join(", ")}`);
    if (!/^[sr]_[0-9a-zA-Z]{12}$/.test(stringField(body, "system_id"))) {
      this.violations.push("jobs/request: system_id missing");
    }
    const version = `v${this.#queueVersion}`;
    if (this.#queue.length === 0 && body?.["last_update"] === version) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.longPollMs);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#queueWaiters.add(done);
        record.held = true;
      });
    }
    const job = this.#queue.shift();
    if (job === undefined) {
      return send(204, { "X-GitLab-Last-Update": `v${this.#queueVersion}` });
    }
    job.state = "running";
    job.assignedAt = Date.now();
    json(201, job.payload);
  }

  async #appendTrace(
    record: RecordedRequest,
    id: number,
    send: (status: number, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const job = this.jobs.get(id);
    if (job === undefined) return send(404);
    const headers = { "Job-Status": JOB_STATUS_FOR[job.state] };
    if (record.headers["job-token"] !== job.token) {
      this.violations.push(`trace ${id}: JOB-TOKEN missing or wrong`);
      return send(403, headers);
    }
    if (job.state !== "running" && job.state !== "canceling") return send(403, headers);
    const range = /^(\d+)-(\d+)$/.exec(String(record.headers["content-range"] ?? ""));
    if (range === null) {
      this.violations.push(`trace ${id}: Content-Range missing or not "start-end"`);
      return send(400, headers);
    }
    const start = Number(range[1]);
    const end = Number(range[2]);
    if (end !== start + record.body.length - 1) {
      this.violations.push(
        `trace ${id}: Content-Range ${start}-${end} for ${record.body.length} bytes`,
      );
    }
    if (start !== job.trace.length) {
      return send(416, { ...headers, Range: `0-${job.trace.length}` });
    }
    job.trace = Buffer.concat([job.trace, record.body]);
    await Promise.resolve();
    send(202, {
      ...headers,
      Range: `0-${job.trace.length}`,
      "X-GitLab-Trace-Update-Interval": String(this.traceUpdateInterval),
    });
  }

  #updateJob(
    record: RecordedRequest,
    id: number,
    json: (status: number, value: unknown, headers?: Record<string, string>) => void,
  ): void {
    const job = this.jobs.get(id);
    if (job === undefined) return json(404, { message: "404 Not Found" });
    const body = this.#parseJson(record) as (FinalUpdate & { token?: string }) | undefined;
    const headers = (): Record<string, string> => ({ "Job-Status": JOB_STATUS_FOR[job.state] });
    if (body?.token !== job.token) {
      this.violations.push(`PUT job ${id}: token missing or wrong`);
      return json(403, { message: "403 Forbidden" }, headers());
    }
    if (job.state === "canceled" || job.state === "success" || job.state === "failed") {
      return json(403, { message: "403 Forbidden - Job is not running" }, headers());
    }
    if (body.state === "running") return json(200, {}, headers());
    if (body.state !== "success" && body.state !== "failed") {
      return json(400, { message: "400 Bad request - state is invalid" }, headers());
    }
    if (job.finalAcceptsPending > 0) {
      job.finalAcceptsPending -= 1;
      return json(202, {}, { ...headers(), "X-GitLab-Trace-Update-Interval": "1" });
    }
    const expected = `crc32:${crc32(job.trace).toString(16).padStart(8, "0")}`;
    if (body.output?.checksum !== expected || body.checksum !== expected) {
      this.violations.push(
        `PUT job ${id}: checksum ${String(body.output?.checksum)} but the stored trace is ${expected}`,
      );
    }
    if (body.output?.bytesize !== job.trace.length) {
      this.violations.push(
        `PUT job ${id}: bytesize ${String(body.output?.bytesize)} but ${job.trace.length} bytes were stored`,
      );
    }
    job.final = body;
    job.state = job.state === "canceling" ? "canceled" : body.state;
    job.finishedAt = Date.now();
    json(200, {}, headers());
  }

  #serveRepository(request: IncomingMessage, response: ServerResponse, url: URL): void {
    const auth = request.headers.authorization ?? "";
    const [user, password] = Buffer.from(auth.replace(/^Basic /, ""), "base64")
      .toString("utf8")
      .split(":");
    const allowed = [...this.jobs.values()].some(
      (job) => job.token === password && (job.state === "running" || job.state === "canceling"),
    );
    if (user !== "gitlab-ci-token" || !allowed) {
      response.writeHead(401, { "WWW-Authenticate": 'Basic realm="GitLab"' });
      response.end();
      return;
    }
    serveGit(request, response, {
      projectRoot: this.#root,
      pathInfo: decodeURIComponent(url.pathname),
      query: url.search.replace(/^\?/, ""),
      remoteUser: user,
    });
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function stringField(body: Record<string, unknown> | undefined, key: string): string {
  const value = body?.[key];
  return typeof value === "string" ? value : "";
}
