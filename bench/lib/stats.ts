/** Summary of a list of measurements (milliseconds, kilobytes, …). */
export interface Summary {
  count: number;
  median: number;
  min: number;
  max: number;
}

/** Median of the values; the mean of the two middle values when the count is even. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] as number;
  if (sorted.length % 2 === 1) return upper;
  return ((sorted[middle - 1] as number) + upper) / 2;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new Error("summary of no values");
  return {
    count: values.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}
