/**
 * GitLab's `Gitlab::Utils.slugify` (CI_COMMIT_REF_SLUG, CI_JOB_NAME_SLUG, CI_PROJECT_PATH_SLUG):
 * lowercase, every character but `a-z0-9` becomes `-`, cut to 63 characters, then leading and
 * trailing `-` removed.
 */
export function slugify(value: string): string {
  const replaced = value.toLowerCase().replace(/[^a-z0-9]/gu, "-");
  const cut = replaced.length > 63 ? replaced.slice(0, 63) : replaced;
  return cut.replace(/^-+|-+$/g, "");
}
