import { isMap, isScalar, parseDocument } from "yaml";
import { describe, expect, it } from "vitest";
import {
  mayBeSpecial,
  mayBeSpecialStart,
  mergeKey,
  resolveYaml11Plain,
} from "../../../../src/pipeline/load/yaml-scalars.ts";
import { seededRandom } from "../../../../bench/generate-pipeline.ts";

const notPlain = Symbol("not a plain scalar");

/** Random texts of 1 to `longest` characters of `alphabet`. */
function randomTexts(random: () => number, alphabet: string, longest: number): () => string {
  return () => {
    const length = 1 + Math.floor(random() * longest);
    let text = "";
    for (let index = 0; index < length; index++)
      text += alphabet[Math.floor(random() * alphabet.length)];
    return text;
  };
}

/** The `yaml` library's value for a plain scalar (YAML 1.1), with Psych's y/n rule. */
function libraryValue(text: string, atKey: boolean): unknown {
  const document = parseDocument(atKey ? `${text}: v` : `k: ${text}`, { version: "1.1" });
  const map = document.contents;
  const pair = isMap(map) && map.items.length === 1 ? map.items[0] : undefined;
  const node = atKey ? pair?.key : pair?.value;
  // Texts that YAML reads as something else than one plain scalar are not plain scalars.
  if (document.errors.length > 0 || !isScalar(node)) return notPlain;
  const value = node.value;
  if (value instanceof Date) return "date";
  if (typeof value === "symbol") return mergeKey;
  if (typeof value === "boolean" && /^[yYnN]$/.test(text)) return text;
  return value;
}

function ownValue(text: string, atKey: boolean): unknown {
  const value = resolveYaml11Plain(text, atKey);
  return value === undefined ? "date" : value;
}

const samples = [
  "",
  "~",
  "null",
  "Null",
  "NULL",
  "nULL",
  "y",
  "Y",
  "n",
  "N",
  "yes",
  "Yes",
  "YES",
  "yEs",
  "no",
  "No",
  "NO",
  "true",
  "True",
  "TRUE",
  "tRue",
  "false",
  "False",
  "FALSE",
  "on",
  "On",
  "ON",
  "off",
  "Off",
  "OFF",
  "0",
  "-0",
  "+0",
  "00",
  "007",
  "08",
  "0_7",
  "0b101",
  "-0b1",
  "0b_",
  "0x1F",
  "0xg",
  "-0x_a",
  "1_000",
  "+12",
  "12a",
  "1:30",
  "1:30:59",
  "1:60",
  "-1:05",
  "1:30.5",
  "190:20:30.15",
  "3.10",
  ".5",
  "5.",
  "1e3",
  "1E+3",
  "-1.5e-3",
  ".e3",
  "1_0.0_1",
  ".inf",
  "-.Inf",
  "+.INF",
  ".nan",
  ".NaN",
  ".NAN",
  "-.nan",
  "2024-01-02",
  "2024-1-2",
  "2024-01-02T10:20:30Z",
  "2024-01-02 10:20:30.5 +05:30",
  "<<",
  "<",
  "<<<",
  "main",
  "feature/x",
  "$CI_COMMIT_BRANCH",
  "echo hi",
  "o",
  "t",
  "f",
  "+",
  ".",
  "_",
  "0.0.1",
  "-x",
  "v1.2",
  "1.2.3",
  "0o17",
  "1__",
  "-_1",
];

describe("resolveYaml11Plain resolves plain scalars as the yaml library's YAML 1.1 schema", () => {
  it("agrees on hand-picked scalars, as values and as keys", () => {
    for (const text of samples) {
      for (const atKey of [false, true]) {
        expect(libraryValue(text, atKey), JSON.stringify(text)).not.toBe(notPlain);
        expect(ownValue(text, atKey), `${JSON.stringify(text)} atKey=${atKey}`).toEqual(
          libraryValue(text, atKey),
        );
      }
    }
  });

  it("agrees on random short scalars made of the characters that matter", () => {
    const next = randomTexts(seededRandom(7), "0123456789+-._:eExXbB~nNyYoOtTfF<aslu", 7);
    let checked = 0;
    for (let round = 0; round < 4000; round++) {
      const text = next();
      const expected = libraryValue(text, false);
      if (expected === notPlain) continue;
      checked++;
      expect(ownValue(text, false), JSON.stringify(text)).toEqual(expected);
    }
    expect(checked).toBeGreaterThan(3000);
  });
});

describe("mayBeSpecialStart", () => {
  it("is true exactly for the first characters of values that are not strings, and for empty text", () => {
    for (let code = 0; code < 0x3000; code++) {
      const char = String.fromCharCode(code);
      expect(mayBeSpecialStart(code), char).toBe(/^[-+.~0-9eEnNyYtTfFoO<]/.test(char));
    }
    expect(mayBeSpecialStart("".charCodeAt(0))).toBe(true);
  });
});

describe("mayBeSpecial", () => {
  it("is false only for scalars the library reads as themselves", () => {
    const next = randomTexts(seededRandom(9), "0123456789+-._:eExXnNyYoOtTfFlLsSuUrRaA<~", 9);
    let skipped = 0;
    for (let round = 0; round < 4000; round++) {
      const text = next();
      if (mayBeSpecial(text.charCodeAt(0), text.length)) continue;
      skipped++;
      for (const atKey of [false, true]) {
        const expected = libraryValue(text, atKey);
        if (expected !== notPlain) expect(expected, JSON.stringify(text)).toBe(text);
      }
    }
    expect(skipped).toBeGreaterThan(500);
  });

  it("keeps the null and boolean words and exponents", () => {
    for (const text of [
      "null",
      "NULL",
      "false",
      "FALSE",
      "yes",
      "off",
      "On",
      "n",
      "e12345",
      "E+1000",
    ])
      expect(mayBeSpecial(text.charCodeAt(0), text.length), text).toBe(true);
    for (const text of ["falsey", "offset", "nothing", "trueish", "yesterday", "script", "Needs1"])
      expect(mayBeSpecial(text.charCodeAt(0), text.length), text).toBe(false);
  });
});
