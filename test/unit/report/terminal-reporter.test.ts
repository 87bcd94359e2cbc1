import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { PlannedJob } from "../../../src/pipeline/plan.ts";
import { createTerminalReporter } from "../../../src/report/terminal-reporter.ts";

function capture(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  return { out, text: () => chunks.join("") };
}

const job = { name: "build", allowFailure: false } as unknown as PlannedJob;

function outputOf(chunks: Array<string | Buffer>): string {
  const { out, text } = capture();
  const reporter = createTerminalReporter({ out, live: false, color: false });
  reporter.onJobStatus(job, "created", 1);
  for (const chunk of chunks) reporter.onJobOutput(job, Buffer.from(chunk));
  reporter.onJobStatus(job, "success", 1);
  return text();
}

describe("terminal reporter", () => {
  it("puts the job's name in front of every line, lines split across chunks included", () => {
    expect(outputOf(["one\ntw", "o\n\nthr", "ee"])).toBe(
      "build │ one\nbuild │ two\nbuild │ \nbuild │ three\nbuild │ job success\n",
    );
  });

  it("shows a line only once it is complete, until the job ends", () => {
    const { out, text } = capture();
    const reporter = createTerminalReporter({ out, live: false, color: false });
    reporter.onJobOutput(job, Buffer.from("partial"));
    expect(text()).toBe("");
    reporter.onJobOutput(job, Buffer.from(" line\nnext"));
    expect(text()).toBe("build │ partial line\n");
  });

  it("keeps a character split between chunks whole", () => {
    const bytes = Buffer.from("café\n");
    expect(outputOf([bytes.subarray(0, 4), bytes.subarray(4)])).toBe(
      "build │ café\nbuild │ job success\n",
    );
  });

  it("drops GitLab's section markers, colours without --color, and what a carriage return overwrote", () => {
    const marker = "section_start:1700000000:step_script\r\x1b[0K";
    expect(outputOf([`${marker}\x1b[32;1m$ true\x1b[0;m\n`, "10%\r50%\r100%\n"])).toBe(
      "build │ $ true\nbuild │ 100%\nbuild │ job success\n",
    );
  });

  it("prints a job's output of many lines exactly once", () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`);
    const text = lines.map((line) => `${line}\n`).join("");
    const chunks = [];
    for (let at = 0; at < text.length; at += 65_536) chunks.push(text.slice(at, at + 65_536));
    const printed = outputOf(chunks).split("\n").slice(0, -2);
    expect(printed).toEqual(lines.map((line) => `build │ ${line}`));
  });
});
