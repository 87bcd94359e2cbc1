/**
 * Plain scalars under the YAML 1.1 schema, resolved exactly as the `yaml` library's
 * `yaml-1.1` schema does (same tests, same order, same conversions), without loading it.
 * `undefined` means "not decided here" (timestamps, which the full path refuses with its own
 * message).
 */

export const mergeKey = Symbol("<<");

const nullPattern = /^(?:~|[Nn]ull|NULL)?$/;
const truePattern = /^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const falsePattern = /^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
const binaryPattern = /^[-+]?0b[0-1_]+$/;
const octalPattern = /^[-+]?0[0-7_]+$/;
const decimalPattern = /^[-+]?[0-9][0-9_]*$/;
const hexPattern = /^[-+]?0x[0-9a-fA-F_]+$/;
const specialFloatPattern = /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const exponentPattern = /^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/;
const floatPattern = /^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/;
const sexagesimalIntPattern = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+$/;
const sexagesimalFloatPattern = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*$/;
const timestampPattern =
  /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:t|T|[ \t]+)([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}(\.[0-9]+)?)(?:[ \t]*(Z|[-+][012]?[0-9](?::[0-9]{2})?))?)?$/;

/**
 * Whether a plain scalar starting with this character code (NaN: an empty one) may be anything
 * but a string: most scalars in a pipeline are words, and only these can start another value
 * (`-+.~`, digits, `eEnNyYtTfFoO` and `<`).
 */
export function mayBeSpecialStart(code: number): boolean {
  if (code >= 48 && code <= 57) return true;
  switch (code) {
    case 45: // -
    case 43: // +
    case 46: // .
    case 126: // ~
    case 60: // <
    case 101: // e
    case 69: // E
    case 110: // n
    case 78: // N
    case 121: // y
    case 89: // Y
    case 116: // t
    case 84: // T
    case 102: // f
    case 70: // F
    case 111: // o
    case 79: // O
      return true;
    default:
      return Number.isNaN(code);
  }
}

/** The null and boolean words are at most this long ("false"). */
const longestWord = 5;

/**
 * mayBeSpecialStart, sharpened by the scalar's length: one starting with a letter other than
 * `e`/`E` (which may start an exponent such as `e5`) can only be a null or boolean word.
 */
export function mayBeSpecial(code: number, length: number): boolean {
  if (!mayBeSpecialStart(code)) return false;
  if (length <= longestWord) return true;
  const letter = (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
  return !letter || code === 101 || code === 69;
}

function integer(text: string, prefix: number, radix: number): number {
  const sign = text[0];
  const offset = sign === "-" || sign === "+" ? prefix + 1 : prefix;
  const value = parseInt(text.substring(offset).replace(/_/g, ""), radix);
  return sign === "-" ? -1 * value : value;
}

function sexagesimal(text: string): number {
  const sign = text[0];
  const parts = sign === "-" || sign === "+" ? text.substring(1) : text;
  const value = parts
    .replace(/_/g, "")
    .split(":")
    .reduce((total, part) => total * 60 + Number(part), 0);
  return sign === "-" ? -1 * value : value;
}

/**
 * The value of a plain scalar: null, a boolean, a number, the merge key (only `atKey`), the
 * text itself, or undefined when the full parser must decide.
 */
export function resolveYaml11Plain(text: string, atKey: boolean): unknown {
  if (!mayBeSpecialStart(text.charCodeAt(0))) return text;
  if (nullPattern.test(text)) return null;
  // Psych reads only yes/no/true/false/on/off as booleans, not YAML 1.1's y/n.
  if (truePattern.test(text)) return text.length === 1 ? text : true;
  if (falsePattern.test(text)) return text.length === 1 ? text : false;
  if (binaryPattern.test(text)) return integer(text, 2, 2);
  if (octalPattern.test(text)) return integer(text, 1, 8);
  if (decimalPattern.test(text)) return integer(text, 0, 10);
  if (hexPattern.test(text)) return integer(text, 2, 16);
  if (specialFloatPattern.test(text)) {
    if (text.slice(-3).toLowerCase() === "nan") return NaN;
    return text[0] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (exponentPattern.test(text) || floatPattern.test(text))
    return parseFloat(text.replace(/_/g, ""));
  if (atKey && text === "<<") return mergeKey;
  if (sexagesimalIntPattern.test(text) || sexagesimalFloatPattern.test(text))
    return sexagesimal(text);
  if (timestampPattern.test(text)) return undefined;
  return text;
}
