/** GitLab's CI_COMMIT_REF_SLUG: lowercase, non [a-z0-9] to `-`, at most 63 bytes, no `-` at the ends. */
export function slugify(value: string): string {
  void value;
  throw new Error("not implemented");
}
