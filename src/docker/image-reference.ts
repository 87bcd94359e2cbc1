/** `registry:5000/group/app:1.2@sha256:…` split into what the engine's query parameters want. */
export interface ImageReference {
  /** Everything before the tag and digest: `registry:5000/group/app`. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageReference(reference: string): ImageReference {
  let rest = reference.trim();
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  const result: ImageReference = { repository: colon < 0 ? rest : rest.slice(0, colon) };
  if (colon >= 0) result.tag = rest.slice(colon + 1);
  if (digest !== undefined) result.digest = digest;
  return result;
}

/** What a pull of `reference` fetches: a name alone means `:latest`, never every tag. */
export function pinnedReference(reference: string): string {
  const parsed = parseImageReference(reference);
  if (parsed.digest !== undefined) return `${parsed.repository}@${parsed.digest}`;
  return `${parsed.repository}:${parsed.tag ?? "latest"}`;
}
