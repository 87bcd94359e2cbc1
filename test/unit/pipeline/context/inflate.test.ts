import { constants, deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  CorruptStream,
  inflateZlib,
  TruncatedInput,
} from "../../../../src/pipeline/context/inflate.ts";

/** A deterministic generator, so that a failure can be replayed. */
function random(seed: number): (bound: number) => number {
  let state = seed;
  return (bound) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % bound;
  };
}

function sample(next: (bound: number) => number, length: number, alphabet: number): Buffer {
  const data = Buffer.alloc(length);
  for (let index = 0; index < length; index++) {
    // Some repeats, so that the compressor emits back-references.
    data[index] = index > 16 && next(3) === 0 ? (data[index - 1 - next(16)] ?? 0) : next(alphabet);
  }
  return data;
}

const strategies = [
  constants.Z_DEFAULT_STRATEGY,
  constants.Z_FIXED,
  constants.Z_HUFFMAN_ONLY,
  constants.Z_RLE,
  constants.Z_FILTERED,
];

describe("inflateZlib", () => {
  it("inflates what node:zlib deflates: every level and strategy, stored, fixed and dynamic blocks", () => {
    const next = random(7);
    for (const length of [0, 1, 57, 300, 4096, 70_000]) {
      for (const alphabet of [2, 26, 256]) {
        const data = sample(next, length, alphabet);
        for (let level = 0; level <= 9; level += 3) {
          for (const strategy of strategies) {
            const compressed = deflateSync(data, { level, strategy });
            // Bytes after the stream (the next pack entry) are ignored.
            const input = Buffer.concat([compressed, Buffer.from("next entry")]);
            expect(inflateZlib(input, length).equals(data)).toBe(true);
            expect(inflateZlib(input, 1).equals(data)).toBe(true);
          }
        }
      }
    }
  });

  it("says when the input ends before the stream", () => {
    const compressed = deflateSync(sample(random(3), 2000, 26));
    for (const cut of [0, 1, 2, 10, compressed.length - 5, compressed.length - 1]) {
      expect(() => inflateZlib(compressed.subarray(0, cut))).toThrow(TruncatedInput);
    }
  });

  it("refuses corrupt streams and output over the limit", () => {
    const data = Buffer.from("tree 1234\nauthor someone\n\nmessage\n".repeat(5));
    const compressed = deflateSync(data);
    const badChecksum = Buffer.from(compressed);
    badChecksum[badChecksum.length - 1] = (badChecksum.at(-1) ?? 0) ^ 1;
    expect(() => inflateZlib(badChecksum)).toThrow(CorruptStream);
    expect(() => inflateZlib(Buffer.from("not zlib at all"))).toThrow(CorruptStream);
    expect(() => inflateZlib(compressed, 10, data.length - 1)).toThrow(CorruptStream);
    expect(inflateZlib(compressed, 10, data.length).equals(data)).toBe(true);
    // Flipped bits in the body: refused (or, at worst, cut short), never a wrong result.
    for (let index = 2; index < compressed.length - 4; index++) {
      const flipped = Buffer.from(compressed);
      flipped[index] = (flipped[index] ?? 0) ^ 0x10;
      let result: Buffer | undefined;
      try {
        result = inflateZlib(flipped);
      } catch (error) {
        expect(error instanceof CorruptStream || error instanceof TruncatedInput).toBe(true);
      }
      if (result !== undefined) expect(result.equals(data)).toBe(true);
    }
  });
});
