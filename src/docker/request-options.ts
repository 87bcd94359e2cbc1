/** Every engine call can be aborted; an abort rejects with the signal's reason. */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

/** Listing calls filter by labels (`true` = label present with any value) and raw engine filters. */
export interface ListOptions extends RequestOptions {
  labels?: Readonly<Record<string, string | true>>;
  filters?: Readonly<Record<string, readonly string[]>>;
}
