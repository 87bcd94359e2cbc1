/**
 * A small zlib (RFC 1950/1951) decompressor for git's small objects. Node's zlib builds a
 * Transform stream per call, and its first call in a process costs milliseconds of cold code;
 * a commit is a few hundred bytes. The Adler-32 trailer is checked, so a mistake here cannot
 * go unnoticed.
 */

/** The input ended before the stream did: more input may complete it. */
export class TruncatedInput extends Error {}

export class CorruptStream extends Error {}

const LENGTH_BASE = [
  3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
  163, 195, 227, 258,
];
const LENGTH_EXTRA = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE = [
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
  3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
/** The order in which a dynamic block lists its code-length code lengths. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function corrupt(why: string): never {
  throw new CorruptStream(why);
}

function huffman(lengths: Uint8Array): Huffman {
  const counts = new Uint16Array(16);
  for (const length of lengths) counts[length] = (counts[length] ?? 0) + 1;
  counts[0] = 0;
  let left = 1;
  for (let length = 1; length < 16; length++) {
    left = left * 2 - (counts[length] ?? 0);
    if (left < 0) corrupt("over-subscribed code");
  }
  const offsets = new Uint16Array(16);
  for (let length = 1; length < 15; length++) {
    offsets[length + 1] = (offsets[length] ?? 0) + (counts[length] ?? 0);
  }
  const symbols = new Uint16Array(lengths.length);
  lengths.forEach((length, symbol) => {
    if (length === 0) return;
    const slot = offsets[length] ?? 0;
    symbols[slot] = symbol;
    offsets[length] = slot + 1;
  });
  return { counts, symbols };
}

let fixedCodes: { literals: Huffman; distances: Huffman } | undefined;

function fixed(): { literals: Huffman; distances: Huffman } {
  if (fixedCodes === undefined) {
    const literals = new Uint8Array(288);
    literals.fill(8, 0, 144).fill(9, 144, 256).fill(7, 256, 280).fill(8, 280, 288);
    fixedCodes = { literals: huffman(literals), distances: huffman(new Uint8Array(30).fill(5)) };
  }
  return fixedCodes;
}

class Inflater {
  readonly #input: Uint8Array;
  #at = 2;
  #bits = 0;
  #bitCount = 0;
  #output: Uint8Array;
  #written = 0;

  readonly #limit: number;

  constructor(input: Uint8Array, sizeHint: number, limit: number) {
    this.#input = input;
    this.#limit = limit;
    this.#output = new Uint8Array(Math.min(Math.max(sizeHint, 64), limit));
  }

  #byte(): number {
    const byte = this.#input[this.#at++];
    if (byte === undefined) throw new TruncatedInput("input ended inside the stream");
    return byte;
  }

  #take(count: number): number {
    while (this.#bitCount < count) {
      this.#bits |= this.#byte() << this.#bitCount;
      this.#bitCount += 8;
    }
    const value = this.#bits & ((1 << count) - 1);
    this.#bits >>>= count;
    this.#bitCount -= count;
    return value;
  }

  #decode(code: Huffman): number {
    let value = 0;
    let first = 0;
    let index = 0;
    for (let length = 1; length < 16; length++) {
      value |= this.#take(1);
      const count = code.counts[length] ?? 0;
      if (value - first < count) return code.symbols[index + value - first] ?? corrupt("bad code");
      index += count;
      first = (first + count) * 2;
      value *= 2;
    }
    return corrupt("code longer than 15 bits");
  }

  #room(extra: number): void {
    if (this.#written + extra <= this.#output.length) return;
    if (this.#written + extra > this.#limit) corrupt("output larger than expected");
    const size = Math.min(Math.max(this.#output.length * 2, this.#written + extra), this.#limit);
    const grown = new Uint8Array(size);
    grown.set(this.#output.subarray(0, this.#written));
    this.#output = grown;
  }

  #stored(): void {
    this.#bits = 0;
    this.#bitCount = 0;
    const length = this.#byte() | (this.#byte() << 8);
    const complement = this.#byte() | (this.#byte() << 8);
    if ((length ^ 0xffff) !== complement) corrupt("stored block length");
    if (this.#at + length > this.#input.length) throw new TruncatedInput("stored block");
    this.#room(length);
    this.#output.set(this.#input.subarray(this.#at, this.#at + length), this.#written);
    this.#at += length;
    this.#written += length;
  }

  #dynamic(): { literals: Huffman; distances: Huffman } {
    const literalCount = this.#take(5) + 257;
    const distanceCount = this.#take(5) + 1;
    const lengthCodeCount = this.#take(4) + 4;
    const lengthCodeLengths = new Uint8Array(19);
    for (let index = 0; index < lengthCodeCount; index++) {
      lengthCodeLengths[CODE_LENGTH_ORDER[index] ?? 0] = this.#take(3);
    }
    const lengthCode = huffman(lengthCodeLengths);
    const lengths = new Uint8Array(literalCount + distanceCount);
    for (let index = 0; index < lengths.length;) {
      const symbol = this.#decode(lengthCode);
      if (symbol < 16) {
        lengths[index++] = symbol;
        continue;
      }
      let repeat: number;
      let value = 0;
      if (symbol === 16) {
        if (index === 0) corrupt("repeat with no previous length");
        value = lengths[index - 1] ?? 0;
        repeat = 3 + this.#take(2);
      } else if (symbol === 17) repeat = 3 + this.#take(3);
      else repeat = 11 + this.#take(7);
      if (index + repeat > lengths.length) corrupt("too many lengths");
      lengths.fill(value, index, index + repeat);
      index += repeat;
    }
    if (lengths[256] === 0) corrupt("no end-of-block code");
    return {
      literals: huffman(lengths.subarray(0, literalCount)),
      distances: huffman(lengths.subarray(literalCount)),
    };
  }

  #codes(literals: Huffman, distances: Huffman): void {
    for (;;) {
      const symbol = this.#decode(literals);
      if (symbol < 256) {
        this.#room(1);
        this.#output[this.#written++] = symbol;
        continue;
      }
      if (symbol === 256) return;
      const lengthIndex = symbol - 257;
      if (lengthIndex >= 29) corrupt("bad length symbol");
      const length = (LENGTH_BASE[lengthIndex] ?? 0) + this.#take(LENGTH_EXTRA[lengthIndex] ?? 0);
      const distanceIndex = this.#decode(distances);
      if (distanceIndex >= 30) corrupt("bad distance symbol");
      const distance =
        (DISTANCE_BASE[distanceIndex] ?? 0) + this.#take(DISTANCE_EXTRA[distanceIndex] ?? 0);
      if (distance > this.#written) corrupt("distance before the start");
      this.#room(length);
      const output = this.#output;
      // Byte by byte: a copy may overlap what it writes.
      for (let index = 0; index < length; index++, this.#written++) {
        output[this.#written] = output[this.#written - distance] ?? 0;
      }
    }
  }

  run(): Buffer {
    const cmf = this.#input[0];
    const flags = this.#input[1];
    if (cmf === undefined || flags === undefined) throw new TruncatedInput("no header");
    if ((cmf & 0x0f) !== 8 || (cmf * 256 + flags) % 31 !== 0 || flags & 0x20) {
      corrupt("not a zlib stream");
    }
    let last = 0;
    while (last === 0) {
      last = this.#take(1);
      const type = this.#take(2);
      if (type === 0) this.#stored();
      else if (type === 1) this.#codes(fixed().literals, fixed().distances);
      else if (type === 2) {
        const { literals, distances } = this.#dynamic();
        this.#codes(literals, distances);
      } else corrupt("reserved block type");
    }
    // The Adler-32 trailer starts at the next byte boundary.
    this.#bits = 0;
    this.#bitCount = 0;
    let checksum = 0;
    for (let index = 0; index < 4; index++) checksum = checksum * 256 + this.#byte();
    const output = Buffer.from(this.#output.buffer, this.#output.byteOffset, this.#written);
    if (adler32(output) !== checksum) corrupt("checksum mismatch");
    return output;
  }
}

function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let start = 0; start < data.length; start += 5552) {
    const end = Math.min(start + 5552, data.length);
    for (let index = start; index < end; index++) {
      a += data[index] ?? 0;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return b * 65536 + a;
}

/**
 * Decompresses the zlib stream at the start of `input` (bytes after it are ignored) into at
 * most `limit` bytes. Throws TruncatedInput when `input` ends first, CorruptStream for data
 * that is not a valid stream or inflates to more than `limit`.
 */
export function inflateZlib(
  input: Uint8Array,
  sizeHint = input.length * 4,
  limit = Number.MAX_SAFE_INTEGER,
): Buffer {
  return new Inflater(input, sizeHint, limit).run();
}
