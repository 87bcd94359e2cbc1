import { PassThrough, type Readable } from "node:stream";

import { describe, expect, it } from "vitest";

import { demultiplex } from "../../../src/docker/stream-demultiplexer.ts";

function frame(stream: number, text: string | Buffer): Buffer {
  const payload = typeof text === "string" ? Buffer.from(text) : text;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

describe("demultiplex", () => {
  it("splits frames into stdout and stderr, whatever the chunk boundaries", async () => {
    const bytes = Buffer.concat([
      frame(1, "hello "),
      frame(2, "warning\n"),
      frame(1, ""),
      frame(1, "world\n"),
      frame(3, "exec failed\n"),
    ]);
    for (const chunkSize of [1, 3, 7, 8, 9, bytes.length]) {
      const source = new PassThrough();
      const { stdout, stderr } = demultiplex(source);
      for (let offset = 0; offset < bytes.length; offset += chunkSize) {
        source.write(bytes.subarray(offset, offset + chunkSize));
      }
      source.end();
      expect(await Promise.all([readAll(stdout), readAll(stderr)])).toEqual([
        "hello world\n",
        "warning\nexec failed\n",
      ]);
    }
  });

  it("pauses the source while a side is full and resumes when it is read", async () => {
    const source = new PassThrough({ highWaterMark: 1024 });
    const { stdout, stderr } = demultiplex(source);
    const big = Buffer.alloc(64 * 1024, 0x61);
    source.write(frame(1, big));
    source.write(frame(1, big));
    await new Promise((resolve) => setImmediate(resolve));
    expect(source.isPaused()).toBe(true);
    source.end();
    const [out, err] = await Promise.all([readAll(stdout), readAll(stderr)]);
    expect(out.length).toBe(128 * 1024);
    expect(err).toBe("");
  });

  it("fails both sides when the source fails or closes early", async () => {
    const source = new PassThrough();
    const { stdout, stderr } = demultiplex(source);
    source.write(frame(1, "partial"));
    source.destroy(new Error("connection reset"));
    await expect(readAll(stdout)).rejects.toThrow("connection reset");
    await expect(readAll(stderr)).rejects.toThrow("connection reset");

    const closed = new PassThrough();
    const sides = demultiplex(closed);
    closed.destroy();
    await expect(readAll(sides.stdout)).rejects.toThrow(/closed early/);
  });
});
