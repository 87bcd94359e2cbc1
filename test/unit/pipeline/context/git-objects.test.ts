import { describe, expect, it } from "vitest";
import { applyDelta } from "../../../../src/pipeline/context/git-objects.ts";

/** A delta: the two sizes as varints, then the instructions. */
function delta(baseSize: number, resultSize: number, ...ops: number[]): Buffer {
  const varint = (value: number): number[] => {
    const bytes: number[] = [];
    do {
      let byte = value & 0x7f;
      value = Math.floor(value / 128);
      if (value > 0) byte |= 0x80;
      bytes.push(byte);
    } while (value > 0);
    return bytes;
  };
  return Buffer.from([...varint(baseSize), ...varint(resultSize), ...ops]);
}

describe("applyDelta", () => {
  const base = Buffer.from("Hello, delta world!");

  it("copies ranges of the base and inserts literal bytes", () => {
    // Copy 5 bytes from offset 0, insert " there", copy from offset 5 to the end (14 bytes).
    const ops = [0x90, 5, 6, ...Buffer.from(" there"), 0x91, 5, 14];
    expect(applyDelta(base, delta(base.length, 25, ...ops)).toString()).toBe(
      "Hello there, delta world!",
    );
  });

  it("reads a copy of size 0 as 64 KiB and multi-byte offsets", () => {
    const big = Buffer.alloc(0x10000 + 300, 7);
    big.write("marker", 0x10100);
    const copyAll = applyDelta(big, delta(big.length, 0x10000, 0x80));
    expect(copyAll.equals(big.subarray(0, 0x10000))).toBe(true);
    // Offset 0x10100 in bytes 1 and 2 of the offset, size 6.
    expect(applyDelta(big, delta(big.length, 6, 0x96, 0x01, 0x01, 6)).toString()).toBe("marker");
  });

  it("refuses deltas that do not fit their base or result", () => {
    expect(() => applyDelta(base, delta(base.length + 1, 1, 1, 65))).toThrow();
    expect(() => applyDelta(base, delta(base.length, 2, 1, 65))).toThrow();
    expect(() => applyDelta(base, delta(base.length, 30, 0x90, 30))).toThrow();
    expect(() => applyDelta(base, delta(base.length, 1, 0))).toThrow();
    expect(() => applyDelta(base, delta(base.length, 5, 5, 65))).toThrow();
  });
});
