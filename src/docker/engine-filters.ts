/** The engine's `filters` query parameter: `{"label":["a=b"],"name":["x"]}`. */
export type EngineFilters = Record<string, readonly string[]>;

/** Labels as filters: `{ "pier.managed": "true", "pier.keep": true }` → `["pier.managed=true", "pier.keep"]` (present with any value). */
export function labelFilter(labels: Readonly<Record<string, string | true>>): string[] {
  return Object.entries(labels).map(([key, value]) => (value === true ? key : `${key}=${value}`));
}

/** Merges label filters into other filters; undefined when there is nothing to filter on. */
export function encodeFilters(
  filters: EngineFilters | undefined,
  labels?: Readonly<Record<string, string | true>>,
): string | undefined {
  const merged: Record<string, string[]> = {};
  for (const [key, values] of Object.entries(filters ?? {})) merged[key] = [...values];
  if (labels !== undefined && Object.keys(labels).length > 0) {
    merged.label = [...(merged.label ?? []), ...labelFilter(labels)];
  }
  return Object.keys(merged).length === 0 ? undefined : JSON.stringify(merged);
}
