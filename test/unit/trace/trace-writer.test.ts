import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatGoDuration,
  writeJobFailed,
  writeJobSucceeded,
} from "../../../src/trace/job-messages.ts";
import { maskPhrases } from "../../../src/trace/mask-phrases.ts";
import { sectionEndMarker, sectionStartMarker } from "../../../src/trace/sections.ts";
import { TraceWriter } from "../../../src/trace/trace-writer.ts";

const NOW = 1_700_000_000_123;

function collect(options: { maskPhrases?: string[] } = {}): {
  trace: TraceWriter;
  text: () => string;
} {
  const chunks: Buffer[] = [];
  const trace = new TraceWriter({ ...options, now: () => NOW, onData: (c) => chunks.push(c) });
  return { trace, text: () => Buffer.concat(chunks).toString("utf8") };
}

describe("section markers", () => {
  it("use GitLab's format", () => {
    expect(sectionStartMarker("step_script", 1700000000)).toBe(
      "section_start:1700000000:step_script\r\x1b[0K",
    );
    expect(sectionStartMarker("my_section", 5, { collapsed: true, hideDuration: true })).toBe(
      "section_start:5:my_section[collapsed=true,hide_duration=true]\r\x1b[0K",
    );
    expect(sectionEndMarker("step_script", 1700000001)).toBe(
      "section_end:1700000001:step_script\r\x1b[0K",
    );
  });

  it("refuse names GitLab would not parse", () => {
    expect(() => sectionStartMarker("bad name", 1)).toThrow(/invalid trace section name/);
  });
});

describe("TraceWriter", () => {
  it("writes sections with a cyan title, as gitlab-runner does", async () => {
    const { trace, text } = collect();
    trace.sectionStart("get_sources", "Getting source from Git repository");
    trace.write("partial line without newline");
    trace.sectionEnd("get_sources");
    await trace.close();
    expect(text()).toBe(
      "section_start:1700000000:get_sources\r\x1b[0K\x1b[0K\x1b[36;1mGetting source from Git repository\x1b[0;m\x1b[0;m\n" +
        "partial line without newline\n" +
        "section_end:1700000000:get_sources\r\x1b[0K",
    );
  });

  it("colours messages and the verdict in gitlab-runner's words", async () => {
    const { trace, text } = collect();
    trace.println("plain");
    trace.notice("green");
    trace.warning("careful");
    writeJobFailed(trace, { kind: "exit_code", exitCode: 3 });
    writeJobFailed(trace, { kind: "timeout", timeoutSeconds: 3600 });
    writeJobFailed(trace, { kind: "canceled" });
    writeJobSucceeded(trace);
    await trace.close();
    expect(text()).toBe(
      "\x1b[0Kplain\x1b[0;m\n" +
        "\x1b[32;1mgreen\x1b[0;m\n" +
        "\x1b[0;33mWARNING: careful\x1b[0;m\n" +
        "\x1b[31;1mERROR: Job failed: exit code 3\x1b[0;m\n" +
        "\x1b[31;1mERROR: Job failed: execution took longer than 1h0m0s seconds\x1b[0;m\n" +
        "\x1b[31;1mERROR: Job failed: canceled\x1b[0;m\n" +
        "\x1b[32;1mJob succeeded\x1b[0;m\n",
    );
  });

  it("masks job output and its own messages before any sink, file included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-trace-test-"));
    try {
      const logFile = join(dir, "nested", "job.log");
      const live: Buffer[] = [];
      const trace = new TraceWriter({
        logFile,
        maskPhrases: ["hunter2-secret"],
        onData: (c) => live.push(c),
      });
      trace.write("pass=hunter2");
      trace.write("-secret ok\n");
      trace.notice("echo hunter2-secret");
      trace.write("tail hunter2-se");
      await trace.close();
      const expected = "pass=[MASKED] ok\n\x1b[32;1mecho [MASKED]\x1b[0;m\ntail hunter2-se";
      expect(readFileSync(logFile, "utf8")).toBe(expected);
      expect(Buffer.concat(live).toString("utf8")).toBe(expected);
      expect(trace.bytesWritten).toBe(Buffer.byteLength(expected));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lets a pipe read through while the log file catches up, and pauses a larger backlog", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-trace-test-"));
    try {
      const logFile = join(dir, "job.log");
      const trace = new TraceWriter({ logFile });
      const pipeRead = Buffer.alloc(64 * 1024, "a");
      // A few pipe reads in flight do not pause the job's output …
      expect([trace.write(pipeRead), trace.write(pipeRead), trace.write(pipeRead)]).toEqual([
        true,
        true,
        true,
      ]);
      // … a backlog past the file's buffer does, until it is written.
      expect(trace.write(Buffer.alloc(1024 * 1024, "b"))).toBe(false);
      await trace.drained();
      expect(trace.write(pipeRead)).toBe(true);
      await trace.close();
      const log = readFileSync(logFile);
      expect(log.length).toBe(4 * pipeRead.length + 1024 * 1024);
      const backlog = log.subarray(3 * pipeRead.length, 3 * pipeRead.length + 1024 * 1024);
      expect(backlog.equals(Buffer.alloc(1024 * 1024, "b"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("masks phrases added while running", async () => {
    const { trace, text } = collect();
    trace.write("before abcdef1234\n");
    trace.addMaskPhrases(["abcdef1234"]);
    trace.write("after abcdef1234\n");
    await trace.close();
    expect(text()).toBe("before abcdef1234\nafter [MASKED]\n");
  });
});

describe("maskPhrases", () => {
  it("takes masked values, their URL-encoded form, and skips very short ones", () => {
    const flags = { public: false, file: false, raw: false };
    expect(
      maskPhrases([
        { key: "A", value: "p@ss word!", masked: true, ...flags },
        { key: "B", value: "plainvalue", masked: false, ...flags },
        { key: "C", value: "abc", masked: true, ...flags },
      ]),
    ).toEqual(["p@ss word!", "p%40ss%20word!"]);
  });
});

describe("formatGoDuration", () => {
  it("prints like Go's time.Duration", () => {
    expect(formatGoDuration(3600)).toBe("1h0m0s");
    expect(formatGoDuration(90)).toBe("1m30s");
    expect(formatGoDuration(5)).toBe("5s");
  });
});
