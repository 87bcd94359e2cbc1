import { describe, expect, it } from "vitest";
import { StreamingMasker } from "../../../src/trace/streaming-masker.ts";

function maskChunks(phrases: string[], chunks: (string | Buffer)[]): string {
  const out: Buffer[] = [];
  const masker = new StreamingMasker((chunk) => out.push(Buffer.from(chunk)), phrases);
  for (const chunk of chunks) masker.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  masker.end();
  return Buffer.concat(out).toString("utf8");
}

/** Cuts `text`'s bytes at the given offsets. */
function splitBytes(text: string, cuts: number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const points = [0, ...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b)];
  return points.map((start, i) => bytes.subarray(start, points[i + 1] ?? bytes.length));
}

/** A small deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
}

describe("StreamingMasker", () => {
  it("replaces a phrase written in one piece", () => {
    expect(maskChunks(["s3cr3t"], ["token=s3cr3t done\n"])).toBe("token=[MASKED] done\n");
  });

  it("replaces a phrase split across writes, byte by byte", () => {
    const text = "a s3cr3t b";
    const chunks = [...Buffer.from(text)].map((byte) => Buffer.from([byte]));
    expect(maskChunks(["s3cr3t"], chunks)).toBe("a [MASKED] b");
  });

  it("passes a partial match through once it fails", () => {
    expect(maskChunks(["s3cr3t"], ["s3c", "r3x", " s3"])).toBe("s3cr3x s3");
  });

  it("masks every occurrence, adjacent ones separately", () => {
    expect(maskChunks(["abcd"], ["abcdabcd", "-abcd"])).toBe("[MASKED][MASKED]-[MASKED]");
  });

  it("handles self-overlapping phrases (abcab in ababcabx)", () => {
    expect(maskChunks(["abcab"], ["aba", "bcabx"])).toBe("ab[MASKED]x");
  });

  it("masks the union of overlapping phrases, so no byte of either leaks", () => {
    expect(maskChunks(["abcd", "cdef"], ["xabcdefy"])).toBe("x[MASKED]y");
    expect(maskChunks(["abcd", "cdef"], ["xabc", "d", "efy"])).toBe("x[MASKED]y");
    // The first phrase completes, then the second turns out to continue it.
    expect(maskChunks(["abcd", "cdef"], ["xabcd", "ez", "cdef"])).toBe("x[MASKED]ez[MASKED]");
  });

  it("prefers the longest phrase when one contains another", () => {
    expect(maskChunks(["pass", "password1"], ["my pass", "word1 and pass"])).toBe(
      "my [MASKED] and [MASKED]",
    );
  });

  it("masks multi-byte UTF-8 phrases cut inside a character", () => {
    const text = "clé: пароль-секрет!";
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(maskChunks(["пароль-секрет"], [bytes.subarray(0, cut), bytes.subarray(cut)])).toBe(
        "clé: [MASKED]!",
      );
    }
  });

  it("passes data through untouched without phrases", () => {
    expect(maskChunks([], ["plain ", "text"])).toBe("plain text");
  });

  it("gives the same output however the stream is split (randomized)", () => {
    const random = prng(42);
    const alphabet = "abcx";
    const phraseSets = [["abca"], ["abab", "bca"], ["aaaa", "aab"], ["cabx", "xab", "abcabc"]];
    for (let round = 0; round < 3000; round++) {
      const phrases = phraseSets[round % phraseSets.length] ?? [];
      const length = 1 + Math.floor(random() * 40);
      let text = "";
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      const whole = maskChunks(phrases, [text]);
      const cuts = Array.from({ length: Math.floor(random() * 8) }, () =>
        Math.floor(random() * text.length),
      );
      expect(maskChunks(phrases, splitBytes(text, cuts)), `${text} cut at ${cuts.join(",")}`).toBe(
        whole,
      );
      for (const phrase of phrases) expect(whole.replaceAll("[MASKED]", "|")).not.toContain(phrase);
    }
  });

  // Speed is measured in bench/, not asserted here; this checks a long stream stays exact.
  it("masks a 50 MB stream exactly", () => {
    const line = Buffer.from("some ordinary build output line with numbers 1234567890\n");
    const chunk = Buffer.concat(Array.from({ length: 1200 }, () => line)); // ~68 KB
    const secret = "sup3r-s3cr3t-valu3";
    let outBytes = 0;
    const masker = new StreamingMasker(
      (c) => {
        outBytes += c.length;
      },
      [secret, "another-secret-value", "third-one-here"],
    );
    let inBytes = 0;
    while (inBytes < 50 * 1024 * 1024) {
      masker.write(chunk);
      inBytes += chunk.length;
    }
    masker.write(Buffer.from(`x${secret.slice(0, 5)}`));
    masker.write(Buffer.from(`${secret.slice(5)}y`));
    masker.end();
    expect(outBytes).toBe(inBytes + 2 + "[MASKED]".length);
  });
});
