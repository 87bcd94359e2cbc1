/**
 * The token as gitlab-runner shows it in logs and paths: known prefixes stripped (`glrt-`,
 * a `t1_`-style partition prefix, legacy `GR1348941`), then the first 9 characters.
 */
export function shortToken(token: string): string {
  let rest = token;
  for (const prefix of ["glrtr-", "glrt-", "glcbt-"]) {
    if (rest.startsWith(prefix)) {
      rest = rest.slice(prefix.length);
      break;
    }
  }
  rest = rest.replace(/^t\d_/, "").replace(/^GR1348941/, "");
  return rest.slice(0, 9);
}
