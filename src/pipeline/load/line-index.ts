/**
 * Line starts of a text and offset → 1-based line and column, as the `yaml` library's
 * LineCounter computes them (same interface), so that positions do not need that library.
 */
export class LineIndex {
  private lineStarts: number[] | Int32Array = [];

  /** Offsets must come in ascending order. */
  addNewLine = (offset: number): void => {
    if (!Array.isArray(this.lineStarts)) this.lineStarts = Array.from(this.lineStarts);
    this.lineStarts.push(offset);
  };

  /** Many addNewLine calls at once; the index keeps `offsets`, which must not change after. */
  addLineStarts(offsets: number[] | Int32Array): void {
    if (this.lineStarts.length === 0) this.lineStarts = offsets;
    else
      for (let index = 0; index < offsets.length; index++)
        this.addNewLine(offsets[index] as number);
  }

  linePos = (offset: number): { line: number; col: number } => {
    const starts = this.lineStarts;
    let low = 0;
    let high = starts.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((starts[middle] as number) < offset) low = middle + 1;
      else high = middle;
    }
    if (starts[low] === offset) return { line: low + 1, col: 1 };
    if (low === 0) return { line: 0, col: offset };
    return { line: low, col: offset - (starts[low - 1] as number) + 1 };
  };
}

/** What source-map.ts needs of a line index (LineIndex, or the `yaml` library's LineCounter). */
export interface LinePositions {
  linePos(offset: number): { line: number; col: number };
}

/** A line index being filled while a text is read. */
export interface LineRecorder extends LinePositions {
  addNewLine(offset: number): void;
}
