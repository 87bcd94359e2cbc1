const MASK = Buffer.from("[MASKED]");

interface Interval {
  start: number;
  end: number;
  /** The mask for this interval was already emitted by an earlier write. */
  emitted: boolean;
}

/**
 * Replaces secret phrases by `[MASKED]` in a byte stream, even when a phrase is split across
 * writes. Every occurrence of every phrase is found (overlaps included) and the union of their
 * byte ranges is masked, so no byte of a secret ever passes, whatever the chunking. Output for a
 * stream is the same however it is split; only the tail that could still grow into a phrase is
 * held back until the next write or `end()`.
 */
export class StreamingMasker {
  readonly #emit: (chunk: Buffer) => void;
  #phrases: Buffer[] = [];
  #longest = 0;
  /** Bytes some phrase starts with: most positions of a tail are rejected on their first byte. */
  #firstBytes = new Uint8Array(256);
  #pending: Buffer = Buffer.alloc(0);
  /** Bytes at the start of #pending already covered by an emitted mask. */
  #covered = 0;

  constructor(emit: (chunk: Buffer) => void, phrases: Iterable<string> = []) {
    this.#emit = emit;
    this.addPhrases(phrases);
  }

  addPhrases(phrases: Iterable<string>): void {
    const known = new Set(this.#phrases.map((phrase) => phrase.toString("utf8")));
    for (const phrase of phrases) {
      if (phrase.length === 0 || known.has(phrase)) continue;
      known.add(phrase);
      const bytes = Buffer.from(phrase, "utf8");
      this.#phrases.push(bytes);
      this.#firstBytes[bytes[0] ?? 0] = 1;
    }
    this.#longest = this.#phrases.reduce((max, phrase) => Math.max(max, phrase.length), 0);
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#phrases.length === 0) {
      this.#emit(chunk);
      return;
    }
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    this.#process(data, this.#holdPoint(data));
  }

  /** Emits what is held back; call once the stream is over. */
  end(): void {
    const data = this.#pending;
    if (data.length === 0) return;
    this.#process(data, data.length);
  }

  #process(data: Buffer, hold: number): void {
    const intervals = this.#matches(data);
    if (intervals.length === 0) {
      if (hold > 0) this.#emit(data.subarray(0, hold));
      this.#pending = Buffer.from(data.subarray(hold));
      this.#covered = 0;
      return;
    }
    // One output chunk per write, however many masks: sinks pay per chunk.
    const pieces: Buffer[] = [];
    let cursor = 0;
    let covered = 0;
    for (const interval of intervals) {
      if (interval.start >= hold) {
        // Everything is held back, including bytes an earlier write already masked.
        if (interval.emitted) covered = interval.end - hold;
        break;
      }
      if (interval.start > cursor) pieces.push(data.subarray(cursor, interval.start));
      if (!interval.emitted) pieces.push(MASK);
      cursor = interval.end;
      if (interval.end > hold) {
        covered = interval.end - hold;
        cursor = hold;
        break;
      }
    }
    if (cursor < hold) pieces.push(data.subarray(cursor, hold));
    if (pieces.length > 0)
      this.#emit(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces));
    // Copy: the held tail is tiny, the buffer it came from may be large.
    this.#pending = Buffer.from(data.subarray(hold));
    this.#covered = covered;
  }

  /** Merged byte ranges of every phrase occurrence, plus the range masked by the last write. */
  #matches(data: Buffer): Interval[] {
    const found: Interval[] = [];
    if (this.#covered > 0) found.push({ start: 0, end: this.#covered, emitted: true });
    for (const phrase of this.#phrases) {
      let at = data.indexOf(phrase);
      while (at !== -1) {
        found.push({ start: at, end: at + phrase.length, emitted: false });
        at = data.indexOf(phrase, at + 1);
      }
    }
    if (found.length <= 1) return found;
    found.sort((a, b) => a.start - b.start || Number(b.emitted) - Number(a.emitted));
    const merged: Interval[] = [];
    for (const interval of found) {
      const last = merged.at(-1);
      if (last !== undefined && interval.start < last.end) {
        last.end = Math.max(last.end, interval.end);
      } else {
        merged.push({ ...interval });
      }
    }
    return merged;
  }

  /** Where the tail that is a proper prefix of some phrase begins (data.length when none). */
  #holdPoint(data: Buffer): number {
    const first = Math.max(0, data.length - this.#longest + 1);
    for (let at = first; at < data.length; at++) {
      if (this.#firstBytes[data[at] ?? 0] === 0) continue;
      const tail = data.length - at;
      for (const phrase of this.#phrases) {
        if (phrase.length > tail && data.compare(phrase, 0, tail, at) === 0) return at;
      }
    }
    return data.length;
  }
}
