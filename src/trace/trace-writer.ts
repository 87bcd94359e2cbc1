import { mkdirSync, createWriteStream, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import {
  ANSI_BOLD_CYAN,
  ANSI_BOLD_GREEN,
  ANSI_BOLD_RED,
  ANSI_CLEAR,
  ANSI_RESET,
  ANSI_YELLOW,
} from "./ansi.ts";
import { sectionEndMarker, sectionStartMarker, type SectionOptions } from "./sections.ts";
import { StreamingMasker } from "./streaming-masker.ts";

export interface TraceWriterOptions {
  /** Secret phrases to replace by [MASKED] (see maskPhrases). */
  maskPhrases?: Iterable<string>;
  /** The job's log file; created with its parent folders. */
  logFile?: string;
  /** Live view: called with every masked chunk, in order. */
  onData?: (chunk: Buffer) => void;
  /** Clock for section markers, in milliseconds (tests pin it). */
  now?: () => number;
}

const NEWLINE = 0x0a;
/**
 * How far the log file may lag before the job's output is paused. Node's 16 KiB default is
 * less than one pipe read (64 KiB), so a chatty job was paused on every read, waiting for each
 * disk write; with room for a few reads, reading goes on while the file catches up.
 */
const LOG_FILE_BUFFER_BYTES = 1024 * 1024;

/**
 * One job's log in GitLab's format. Everything written, job output and executor messages
 * alike, goes through the masker before it reaches any sink (file, live callback).
 */
export class TraceWriter {
  readonly #masker: StreamingMasker;
  readonly #file: WriteStream | undefined;
  readonly #onData: ((chunk: Buffer) => void) | undefined;
  readonly #now: () => number;
  #fileError: Error | undefined;
  #atLineStart = true;
  #closed = false;
  #bytes = 0;

  constructor(options: TraceWriterOptions = {}) {
    this.#onData = options.onData;
    this.#now = options.now ?? Date.now;
    if (options.logFile !== undefined) {
      mkdirSync(dirname(options.logFile), { recursive: true });
      this.#file = createWriteStream(options.logFile, {
        flags: "w",
        highWaterMark: LOG_FILE_BUFFER_BYTES,
      });
      this.#file.on("error", (error) => {
        this.#fileError ??= error;
      });
    }
    this.#masker = new StreamingMasker((chunk) => this.#toSinks(chunk), options.maskPhrases);
  }

  /** Bytes handed to the sinks so far (after masking). */
  get bytesWritten(): number {
    return this.#bytes;
  }

  addMaskPhrases(phrases: Iterable<string>): void {
    this.#masker.addPhrases(phrases);
  }

  /**
   * Job output. Returns false when the log file is behind; the producer should pause until
   * `drained()` resolves so a chatty job cannot fill memory.
   */
  write(data: Buffer | string): boolean {
    if (this.#closed) return true;
    const chunk = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (chunk.length === 0) return true;
    this.#atLineStart = chunk[chunk.length - 1] === NEWLINE;
    this.#masker.write(chunk);
    return this.#file === undefined || !this.#file.writableNeedDrain;
  }

  drained(): Promise<void> {
    const file = this.#file;
    if (file === undefined || !file.writableNeedDrain || this.#fileError !== undefined) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        file.off("drain", done);
        file.off("close", done);
        resolve();
      };
      file.on("drain", done);
      file.on("close", done);
    });
  }

  /** Ends a partial output line so the next message starts on its own line. */
  ensureNewline(): void {
    if (!this.#atLineStart) this.write("\n");
  }

  /** A plain runner message (gitlab-runner's Println). */
  println(text: string): void {
    this.ensureNewline();
    this.write(`${ANSI_CLEAR}${text}${ANSI_RESET}\n`);
  }

  /** A green runner message (gitlab-runner's Infoln). */
  notice(text: string): void {
    this.ensureNewline();
    this.write(`${ANSI_BOLD_GREEN}${text}${ANSI_RESET}\n`);
  }

  warning(text: string): void {
    this.ensureNewline();
    this.write(`${ANSI_YELLOW}WARNING: ${text}${ANSI_RESET}\n`);
  }

  error(text: string): void {
    this.ensureNewline();
    this.write(`${ANSI_BOLD_RED}ERROR: ${text}${ANSI_RESET}\n`);
  }

  sectionStart(name: string, title: string, options?: SectionOptions): void {
    this.ensureNewline();
    this.write(sectionStartMarker(name, this.#unixSeconds(), options));
    this.write(`${ANSI_CLEAR}${ANSI_BOLD_CYAN}${title}${ANSI_RESET}${ANSI_RESET}\n`);
  }

  sectionEnd(name: string): void {
    this.ensureNewline();
    this.write(sectionEndMarker(name, this.#unixSeconds()));
    // The marker ends in "\r\e[0K": the next write starts a fresh line as far as readers care.
    this.#atLineStart = true;
  }

  /** Runs `body` inside a section; the end marker is written whatever happens. */
  async section<T>(name: string, title: string, body: () => Promise<T>): Promise<T> {
    this.sectionStart(name, title);
    try {
      return await body();
    } finally {
      this.sectionEnd(name);
    }
  }

  /** Flushes what the masker holds back and closes the log file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#masker.end();
    this.#closed = true;
    const file = this.#file;
    if (file !== undefined) {
      await new Promise<void>((resolve) => {
        if (file.closed) resolve();
        else file.end(() => resolve());
        file.once("error", () => resolve());
      });
    }
    if (this.#fileError !== undefined) throw this.#fileError;
  }

  #toSinks(chunk: Buffer): void {
    this.#bytes += chunk.length;
    if (this.#file !== undefined && this.#fileError === undefined) this.#file.write(chunk);
    this.#onData?.(chunk);
  }

  #unixSeconds(): number {
    return Math.floor(this.#now() / 1000);
  }
}
