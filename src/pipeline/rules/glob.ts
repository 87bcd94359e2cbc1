/**
 * Ruby's `File.fnmatch?(glob, path, FNM_PATHNAME | FNM_DOTMATCH | FNM_EXTGLOB)`, which GitLab
 * uses for `rules:changes` and `rules:exists`: `*` and `?` stop at `/`, `**` then `/` matches zero
 * or more directories (a `**` not followed by `/` is a `*`), dotfiles match, `{a,b}` alternatives,
 * `[...]` classes (`[!x]`/`[^x]` negated), `\` escapes. Parentheses, `!` and `+` are literal.
 */
export type PathMatcher = (path: string) => boolean;

const cache = new Map<string, PathMatcher>();

export function globMatcher(glob: string): PathMatcher {
  let matcher = cache.get(glob);
  if (!matcher) {
    const regexes = expandBraces(glob).map((pattern) => new RegExp(`^${translate(pattern)}$`, "s"));
    matcher =
      regexes.length === 1 && regexes[0]
        ? (path) => (regexes[0] as RegExp).test(path)
        : (path) => regexes.some((regex) => regex.test(path));
    cache.set(glob, matcher);
  }
  return matcher;
}

export function globMatches(glob: string, path: string): boolean {
  return globMatcher(glob)(path);
}

/** Whether a glob has no wildcard at all (GitLab compares those paths exactly). */
export function isLiteralGlob(glob: string): boolean {
  return !/[*?[{]/.test(glob);
}

// Ruby's brace expansion: the first top-level `{…}` with a `,` or not is split on top-level
// commas, recursively; backslash-escaped braces and commas are literal.
function expandBraces(pattern: string): string[] {
  let depth = 0;
  let open = -1;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "\\") {
      i++;
      continue;
    }
    if (char === "{") {
      if (depth === 0) open = i;
      depth++;
    } else if (char === "}" && depth > 0) {
      depth--;
      if (depth === 0) {
        const before = pattern.slice(0, open);
        const after = pattern.slice(i + 1);
        return splitTopLevel(pattern.slice(open + 1, i)).flatMap((alternative) =>
          expandBraces(before + alternative + after),
        );
      }
    }
  }
  return [pattern];
}

function splitTopLevel(body: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const char = body[i];
    if (char === "\\") i++;
    else if (char === "{") depth++;
    else if (char === "}") depth--;
    else if (char === "," && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  return parts;
}

const REGEX_SPECIAL = /[.*+?^${}()|[\]\\/]/;

function literal(char: string): string {
  return REGEX_SPECIAL.test(char) ? `\\${char}` : char;
}

function translate(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] ?? "";
    const atSegmentStart = i === 0 || pattern[i - 1] === "/";
    if (char === "*") {
      let end = i;
      while (pattern[end + 1] === "*") end++;
      if (end > i && atSegmentStart && pattern[end + 1] === "/") {
        out += "(?:[^/]+/)*"; // `**/`: zero or more directories
        i = end + 1;
      } else {
        out += "[^/]*";
        i = end;
      }
    } else if (char === "?") {
      out += "[^/]";
    } else if (char === "[") {
      const bracket = readBracket(pattern, i);
      if (bracket) {
        out += bracket.regex;
        i = bracket.end;
      } else {
        out += "\\[";
      }
    } else if (char === "\\" && i + 1 < pattern.length) {
      i++;
      out += literal(pattern[i] ?? "");
    } else {
      out += literal(char);
    }
  }
  return out;
}

function readBracket(pattern: string, start: number): { regex: string; end: number } | undefined {
  let i = start + 1;
  let negated = false;
  if (pattern[i] === "!" || pattern[i] === "^") {
    negated = true;
    i++;
  }
  let body = "";
  let first = true;
  for (; i < pattern.length; i++) {
    const char = pattern[i] ?? "";
    if (char === "]" && !first) {
      return { regex: negated ? `[^/${body}]` : `(?!/)[${body}]`, end: i };
    }
    first = false;
    if (char === "\\" && i + 1 < pattern.length) {
      i++;
      body += `\\${pattern[i] ?? ""}`;
    } else if (char === "-") {
      body += "-";
    } else {
      body += char === "]" || char === "^" || char === "[" ? `\\${char}` : char;
    }
  }
  return undefined;
}
