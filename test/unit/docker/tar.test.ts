import { Readable } from "node:stream";

import { Parser, type ReadEntry } from "tar";
import { describe, expect, it } from "vitest";

import { readTar } from "../../../src/docker/tar-reader.ts";
import { type TarEntry, packTar, packTarToBuffer } from "../../../src/docker/tar-writer.ts";

const mtime = new Date("2023-01-02T03:04:05Z");
const entries: TarEntry[] = [
  { path: "dir", type: "directory", mode: 0o700, mtime },
  { path: "dir/a.txt", type: "file", mode: 0o640, mtime, content: "alpha\n", uid: 1000, gid: 1000 },
  { path: `dir/${"x".repeat(120)}/${"y".repeat(90)}.txt`, type: "file", mtime, content: "long" },
  { path: "dir/émoji-✓.txt", type: "file", mtime, content: Buffer.from([0, 1, 2]) },
  { path: "dir/link", type: "symlink", linkTarget: `${"t".repeat(150)}`, mtime },
  { path: "dir/empty", type: "file", mtime, content: "" },
  { path: "/dir/block.bin", type: "file", mtime, content: Buffer.alloc(512, 7) },
];

interface Seen {
  path: string;
  type: string;
  mode: number;
  size: number;
  mtime: number;
  link: string;
  body: string;
}

async function listWithTarPackage(archive: Buffer): Promise<Seen[]> {
  const seen: Seen[] = [];
  const parser = new Parser();
  parser.on("entry", (entry: ReadEntry) => {
    const chunks: Buffer[] = [];
    entry.on("data", (chunk: Buffer) => chunks.push(chunk));
    entry.on("end", () =>
      seen.push({
        path: entry.path,
        type: entry.type,
        mode: (entry.mode ?? 0) & 0o7777,
        size: entry.size ?? 0,
        mtime: entry.mtime?.getTime() ?? 0,
        link: entry.linkpath ?? "",
        body: Buffer.concat(chunks).toString("hex"),
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    parser.on("end", resolve);
    parser.on("error", reject);
    parser.end(archive);
  });
  return seen;
}

describe("tar writer", () => {
  it("writes what the tar package reads back: modes, mtimes, owners, PAX long and non-ASCII names", async () => {
    const archive = await packTarToBuffer(entries);
    expect(archive.length % 512).toBe(0);
    const seen = await listWithTarPackage(archive);
    expect(seen.map((entry) => [entry.path, entry.type])).toEqual([
      ["dir/", "Directory"],
      ["dir/a.txt", "File"],
      [`dir/${"x".repeat(120)}/${"y".repeat(90)}.txt`, "File"],
      ["dir/émoji-✓.txt", "File"],
      ["dir/link", "SymbolicLink"],
      ["dir/empty", "File"],
      ["dir/block.bin", "File"],
    ]);
    expect(seen[0]).toMatchObject({ mode: 0o700, mtime: mtime.getTime() });
    expect(seen[1]).toMatchObject({
      mode: 0o640,
      size: 6,
      body: Buffer.from("alpha\n").toString("hex"),
    });
    expect(seen[4]).toMatchObject({ link: "t".repeat(150), mode: 0o777 });
    expect(seen[6]).toMatchObject({ size: 512, body: "07".repeat(512) });
  });

  it("streams file content from a source and checks its size", async () => {
    const ok = packTar([
      {
        path: "big",
        type: "file",
        source: { size: 6, open: () => Readable.from([Buffer.from("abc"), Buffer.from("def")]) },
      },
    ]);
    const read = [];
    for await (const entry of readTar(ok)) read.push(entry.content.toString());
    expect(read).toEqual(["abcdef"]);

    const shrunk = packTar([
      {
        path: "big",
        type: "file",
        source: { size: 10, open: () => Readable.from([Buffer.from("abc")]) },
      },
    ]);
    await expect(async () => {
      for await (const _ of shrunk) {
        // drain
      }
    }).rejects.toThrow(/shrank/);
  });
});

describe("tar reader", () => {
  it("reads back our own archives", async () => {
    const read = [];
    for await (const entry of readTar(Readable.from([await packTarToBuffer(entries)]))) {
      read.push({
        path: entry.path,
        type: entry.type,
        mode: entry.mode,
        text: entry.content.toString("hex"),
        link: entry.linkTarget,
        uid: entry.uid,
        mtime: entry.mtime.getTime(),
      });
    }
    expect(read.map((entry) => entry.path)).toEqual(seenPaths());
    expect(read[1]).toEqual({
      path: "dir/a.txt",
      type: "file",
      mode: 0o640,
      text: Buffer.from("alpha\n").toString("hex"),
      link: "",
      uid: 1000,
      mtime: mtime.getTime(),
    });
    expect(read[4]).toMatchObject({ type: "symlink", link: "t".repeat(150) });
  });

  it("reads GNU long names, and stops at the end-of-archive blocks", async () => {
    const longName = `gnu/${"g".repeat(200)}`;
    const header = (name: string, type: string, size: number): Buffer => {
      const block = Buffer.alloc(512);
      block.write(name.slice(0, 99), 0);
      block.write("0000644\0", 100);
      block.write("0000000\0", 108);
      block.write("0000000\0", 116);
      block.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
      block.write("00000000000\0", 136);
      block.write(type, 156);
      block.write("ustar  \0", 257);
      block.fill(0x20, 148, 156);
      let sum = 0;
      for (const byte of block) sum += byte;
      block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
      return block;
    };
    const pad = (data: Buffer): Buffer =>
      Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
    const archive = Buffer.concat([
      header("././@LongLink", "L", longName.length + 1),
      pad(Buffer.from(`${longName}\0`)),
      header("truncated", "0", 2),
      pad(Buffer.from("hi")),
      Buffer.alloc(1024),
      Buffer.from("garbage after the end"),
    ]);
    const read = [];
    for await (const entry of readTar(Readable.from([archive])))
      read.push([entry.path, entry.content.toString()]);
    expect(read).toEqual([[longName, "hi"]]);
  });

  it("rejects a truncated archive", async () => {
    const archive = await packTarToBuffer([{ path: "f", type: "file", content: "x".repeat(2000) }]);
    await expect(async () => {
      for await (const _ of readTar(Readable.from([archive.subarray(0, 1024)]))) {
        // drain
      }
    }).rejects.toThrow(/ends inside an entry/);
  });
});

function seenPaths(): string[] {
  return [
    "dir/",
    "dir/a.txt",
    `dir/${"x".repeat(120)}/${"y".repeat(90)}.txt`,
    "dir/émoji-✓.txt",
    "dir/link",
    "dir/empty",
    "dir/block.bin",
  ];
}
