/**
 * A regular expression that finds matches, whichever engine compiled it: re2js, or for the
 * simple patterns most pipelines use, the built-in RegExp (no large library to load).
 */
export interface CompiledPattern {
  /** Whether the pattern matches anywhere in `text`. */
  test(text: string): boolean;
}

const SYNTAX = new Set(["\\", "^", "$", ".", "|", "?", "*", "+", "(", ")", "[", "]", "{", "}"]);
const CLASS_ESCAPES = new Set(["d", "D", "w", "W"]);
const ESCAPES = new Set(["d", "D", "w", "W", "b", "B"]);

function isPunctuation(char: string): boolean {
  return /^[!-/:-@[-`{-~]$/.test(char);
}

function literal(char: string): string {
  return /^[A-Za-z0-9]$/.test(char) ? char : `\\u{${(char.codePointAt(0) ?? 0).toString(16)}}`;
}

/**
 * An RE2 pattern (without flags) as a RegExp that matches exactly the same texts, when the
 * pattern keeps to a subset whose syntax and meaning RE2 and JavaScript's `u` mode share:
 * literals, escaped punctuation, `.` (any character but a newline, as in RE2), `^`, `$`, `|`,
 * capturing groups, `* + ?` (also lazy), `\d \w \b` and their negations, and bracket classes of
 * literals and ranges. Anything else (flags, counted repetition, `(?`, other escapes, POSIX
 * classes…) returns undefined: RE2 itself decides, validity included.
 *
 * RE2 runs in linear time and a backtracking RegExp does not, so the subset also leaves out
 * what makes backtracking blow up: quantified groups, more than three `*`/`+`, more than three
 * `?`. What is left is polynomial in the text's length, and callers hand long texts to RE2.
 */
export function simpleRegex(source: string, flags: string): RegExp | undefined {
  // RE2's limits (nesting, program size) are its own to enforce.
  if (flags !== "" || source.length > 1000) return undefined;
  const chars = Array.from(source);
  let out = "";
  let depth = 0;
  // Whether a quantifier may follow (after an atom, not after an anchor, `|`, `(`, `)` or another one).
  let quantifiable = false;
  let unbounded = 0;
  let optional = 0;
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index] as string;
    if (char === "\\") {
      const next = chars[++index];
      if (next === undefined) return undefined;
      if (ESCAPES.has(next)) {
        out += `\\${next}`;
        quantifiable = next !== "b" && next !== "B";
      } else if (isPunctuation(next)) {
        out += literal(next);
        quantifiable = true;
      } else return undefined;
    } else if (char === "*" || char === "+" || char === "?") {
      if (!quantifiable) return undefined;
      if (char === "?" ? ++optional > 3 : ++unbounded > 3) return undefined;
      out += char;
      if (chars[index + 1] === "?") {
        out += "?";
        index++;
      }
      quantifiable = false;
    } else if (char === "(") {
      if (chars[index + 1] === "?") return undefined;
      if (++depth > 100) return undefined;
      out += "(";
      quantifiable = false;
    } else if (char === ")") {
      if (depth === 0) return undefined;
      depth--;
      out += ")";
      quantifiable = false;
    } else if (char === "|" || char === "^" || char === "$") {
      out += char;
      quantifiable = false;
    } else if (char === ".") {
      out += "[^\\n]";
      quantifiable = true;
    } else if (char === "[") {
      const end = bracketClass(chars, index);
      if (!end) return undefined;
      out += end.text;
      index = end.last;
      quantifiable = true;
    } else if (SYNTAX.has(char)) {
      return undefined;
    } else {
      out += literal(char);
      quantifiable = true;
    }
  }
  if (depth !== 0) return undefined;
  try {
    return new RegExp(out, "u");
  } catch {
    return undefined;
  }
}

/** `[...]` from `start`: its translation and the index of its `]`. */
function bracketClass(chars: string[], start: number): { text: string; last: number } | undefined {
  let index = start + 1;
  let text = "[";
  if (chars[index] === "^") {
    text += "^";
    index++;
  }
  // A `]` first is a literal in RE2 but closes the class in JavaScript.
  if (chars[index] === "]") return undefined;
  let items = 0;
  for (; index < chars.length; index++) {
    const char = chars[index] as string;
    if (char === "]") return items > 0 ? { text: `${text}]`, last: index } : undefined;
    if (char === "[") return undefined;
    let low: string;
    if (char === "\\") {
      const next = chars[++index];
      if (next === undefined) return undefined;
      if (CLASS_ESCAPES.has(next)) {
        if (chars[index + 1] === "-" && chars[index + 2] !== "]") return undefined;
        text += `\\${next}`;
        items++;
        continue;
      }
      if (!isPunctuation(next)) return undefined;
      low = next;
    } else if (char === "-") {
      // A `-` is a literal only first or last.
      if (items > 0 && chars[index + 1] !== "]") return undefined;
      low = char;
    } else low = char;
    if (chars[index + 1] === "-" && chars[index + 2] !== "]" && chars[index + 2] !== undefined) {
      let high = chars[index + 2] as string;
      index += 2;
      if (high === "\\") {
        const next = chars[++index];
        if (next === undefined || !isPunctuation(next)) return undefined;
        high = next;
      } else if (high === "[" || high === "]") return undefined;
      if ((low.codePointAt(0) ?? 0) > (high.codePointAt(0) ?? 0)) return undefined;
      text += `${literal(low)}-${literal(high)}`;
    } else text += literal(low);
    items++;
  }
  return undefined;
}
