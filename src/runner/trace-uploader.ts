import { setTimeout as sleep } from "node:timers/promises";
import { crc32 } from "node:zlib";
import type { GitLabClient } from "./gitlab-client.ts";
import { patchTrace, updateJob, type JobResponse } from "./runner-api.ts";

export interface TraceUploaderOptions {
  client: GitLabClient;
  jobId: number;
  jobToken: string;
  systemId: string;
  /** `output_limit` in bytes: past it the log is cut and the job goes on. */
  outputLimitBytes: number;
  /** Until the server asks for another interval (gitlab-runner: 3 s). */
  updateIntervalMs?: number;
  /** A keep-alive `PUT` after this long without a PATCH, so `Job-Status` still reaches us. */
  forceSendIntervalMs?: number;
  /** Every `Job-Status` the server answers with (running, canceling, canceled, failed, …). */
  onJobStatus: (status: string) => void;
}

/** gitlab-runner's DefaultTracePatchLimit. */
const PATCH_LIMIT_BYTES = 1024 * 1024;
const MAX_UPDATE_INTERVAL_MS = 15 * 60_000;
const FINISH_ATTEMPTS = 12;

/**
 * Streams one job's log to GitLab with `PATCH /jobs/:id/trace`: appends from the last offset
 * the server confirmed, resyncs from the server's `Range` on 416, follows the update interval
 * GitLab asks for, and keeps the whole log (up to `output_limit`) so a reset can resend it.
 */
export class TraceUploader {
  readonly #o: TraceUploaderOptions;
  #buffer = Buffer.alloc(64 * 1024);
  #length = 0;
  /** CRC-32 of the stored log, kept as it grows so the final update does not wait for it. */
  #crc = 0;
  #sent = 0;
  #truncated = false;
  #intervalMs: number;
  #lastContact = Date.now();
  #stopped = false;
  /** GitLab will take no more (403/404): the job is over on its side. */
  #closedByServer = false;
  #wake: (() => void) | undefined;
  /** A wake-up that came while the loop was sending, not waiting: the loop must not sleep. */
  #wakeMissed = false;
  #loop: Promise<void> | undefined;
  #sending: Promise<void> = Promise.resolve();

  constructor(options: TraceUploaderOptions) {
    this.#o = options;
    this.#intervalMs = options.updateIntervalMs ?? 3000;
  }

  /** The log bytes as GitLab will store them (after output_limit). */
  get content(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  get checksum(): string {
    return `crc32:${this.#crc.toString(16).padStart(8, "0")}`;
  }

  get bytesize(): number {
    return this.#length;
  }

  get sentBytes(): number {
    return this.#sent;
  }

  get closedByServer(): boolean {
    return this.#closedByServer;
  }

  /** The update interval the server asked for last, in ms. */
  get updateIntervalMs(): number {
    return this.#intervalMs;
  }

  append(chunk: Buffer): void {
    if (this.#truncated) return;
    const room = this.#o.outputLimitBytes - this.#length;
    if (chunk.length > room) {
      this.#store(chunk.subarray(0, Math.max(0, room)));
      this.#store(
        Buffer.from(
          `\n\x1b[31;1mJob's log exceeded limit of ${this.#o.outputLimitBytes} bytes.\nJob execution will continue but no more output will be collected.\x1b[0;m\n`,
        ),
      );
      this.#truncated = true;
      // The log GitLab gets is complete: send it now rather than at the next interval or the end.
      this.#poke();
      return;
    }
    this.#store(chunk);
    // The job's first bytes go at once (GitLab shows it started); a full PATCH waiting too, so
    // a chatty job's log keeps up instead of piling up.
    if (this.#sent === 0 || this.#length - this.#sent >= PATCH_LIMIT_BYTES) this.#poke();
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the periodic sends and sends what is left; false when GitLab never took it all. */
  async finish(): Promise<boolean> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    for (let attempt = 0; attempt < FINISH_ATTEMPTS; attempt += 1) {
      await this.flush();
      if (this.#sent >= this.#length || this.#closedByServer) break;
      await sleep(Math.min(200 * 2 ** attempt, 5000));
    }
    return this.#sent >= this.#length;
  }

  /** Sends everything appended so far (one PATCH per MiB); stops at the first failure. */
  flush(): Promise<void> {
    return this.#send(false);
  }

  #send(fullPatchesOnly: boolean): Promise<void> {
    this.#sending = this.#sending.then(() => this.#sendPending(fullPatchesOnly));
    return this.#sending;
  }

  /** GitLab lost the trace (412 on the final update): send it again from the start. */
  resend(): void {
    this.#sent = 0;
  }

  #store(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#length + chunk.length > this.#buffer.length) {
      const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + chunk.length));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    chunk.copy(this.#buffer, this.#length);
    this.#length += chunk.length;
    this.#crc = crc32(chunk, this.#crc);
  }

  async #run(): Promise<void> {
    while (!this.#stopped && !this.#closedByServer) {
      const early = await this.#nextTick();
      if (this.#stopped) return;
      // Woken by a backlog: whole patches only, the tail waits for the interval (but neither
      // the first bytes of the log nor the cut log's end do).
      await this.#send(early && this.#sent > 0 && !this.#truncated);
      const forceAfter = this.#o.forceSendIntervalMs ?? 30_000;
      if (!this.#closedByServer && Date.now() - this.#lastContact >= forceAfter) {
        await this.#keepAlive();
      }
    }
  }

  /** Resolves at the update interval (false), or earlier when poked (true). */
  #nextTick(): Promise<boolean> {
    if (this.#wakeMissed) {
      this.#wakeMissed = false;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, this.#intervalMs);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(true);
      };
    });
  }

  #poke(): void {
    if (this.#wake === undefined) this.#wakeMissed = true;
    else this.#wake();
  }

  async #sendPending(fullPatchesOnly: boolean): Promise<void> {
    const minimum = fullPatchesOnly ? PATCH_LIMIT_BYTES : 1;
    while (this.#length - this.#sent >= minimum && !this.#closedByServer) {
      const offset = this.#sent;
      const bytes = this.content.subarray(
        offset,
        Math.min(this.#length, offset + PATCH_LIMIT_BYTES),
      );
      let response: JobResponse;
      try {
        response = await patchTrace(this.#o.client, {
          jobId: this.#o.jobId,
          jobToken: this.#o.jobToken,
          offset,
          bytes: Buffer.from(bytes),
        });
      } catch {
        return; // Unreachable: the next tick tries again.
      }
      this.#lastContact = Date.now();
      this.#noteResponse(response);
      if (response.status === 202) {
        this.#sent = offset + bytes.length;
      } else if (response.status === 416) {
        this.#sent = Math.min(response.rangeEnd ?? 0, this.#length);
      } else if (response.status === 403 || response.status === 404) {
        this.#closedByServer = true;
        if (response.status === 403) this.#o.onJobStatus(response.jobStatus ?? "canceled");
        return;
      } else {
        return;
      }
    }
  }

  async #keepAlive(): Promise<void> {
    try {
      const response = await updateJob(this.#o.client, {
        jobId: this.#o.jobId,
        jobToken: this.#o.jobToken,
        systemId: this.#o.systemId,
        update: { state: "running" },
      });
      this.#lastContact = Date.now();
      this.#noteResponse(response);
      if (response.status === 403 || response.status === 404) {
        this.#closedByServer = true;
        if (response.status === 403) this.#o.onJobStatus(response.jobStatus ?? "canceled");
      }
    } catch {
      // Unreachable: the next tick tries again.
    }
  }

  #noteResponse(response: JobResponse): void {
    if (response.updateIntervalSeconds !== undefined) {
      this.#intervalMs = Math.min(response.updateIntervalSeconds * 1000, MAX_UPDATE_INTERVAL_MS);
    }
    if (response.jobStatus !== undefined) this.#o.onJobStatus(response.jobStatus);
  }
}
