import { createRequire } from "node:module";
import type { RE2JS } from "re2js";
import { simpleRegex, type CompiledPattern } from "./simple-regex.ts";

// re2js is large: loaded on the first regular expression, not with every pipeline.
/** Made when first used: its module lookup setup costs every start otherwise. */
let requireHere: NodeJS.Require | undefined;
function loadModule(name: string): unknown {
  requireHere ??= createRequire(import.meta.url);
  return requireHere(name);
}
let engine: typeof RE2JS | undefined;
function regexEngine(): typeof RE2JS {
  engine ??= (loadModule("re2js") as { RE2JS: typeof RE2JS }).RE2JS;
  return engine;
}

// Gitlab::UntrustedRegexp::RubySyntax: `/regexp/flags`; Ruby's `^`/`$` are line anchors.
const RUBY_SYNTAX = /^\/(.*)\/([ismU]*)$/m;

const compiled = new Map<string, CompiledPattern | null>();

// Beyond this length a text goes to RE2 even for a simple pattern: linear time, whatever it is.
const SHORT_TEXT = 256;

function re2Pattern(source: string, flags: string): CompiledPattern | null {
  try {
    return regexEngine().compile(flags === "" ? source : `(?${flags})${source}`);
  } catch {
    return null;
  }
}

/** A simple pattern as a RegExp for short texts, RE2 (compiled when first needed) for long ones. */
function simplePattern(simple: RegExp, source: string): CompiledPattern {
  let long: CompiledPattern | null | undefined;
  return {
    test(text) {
      if (text.length <= SHORT_TEXT) return simple.test(text);
      long ??= re2Pattern(source, "");
      return long?.test(text) ?? false;
    },
  };
}

/**
 * Compiles an RE2 pattern with GitLab's flag handling (`(?flags)` prefix); null when invalid.
 * Simple patterns become a RegExp with the same meaning, so re2js is loaded only for others.
 */
export function compileRegex(source: string, flags: string): CompiledPattern | null {
  const key = `${flags}\u0000${source}`;
  let regex = compiled.get(key);
  if (regex === undefined) {
    const simple = simpleRegex(source, flags);
    regex = simple ? simplePattern(simple, source) : re2Pattern(source, flags);
    compiled.set(key, regex);
  }
  return regex;
}

/**
 * A string that reads as `/regexp/flags` (a variable's value, a quoted string on the right of
 * `=~`), compiled; null when it does not look like a pattern or does not compile.
 */
export function regexFromString(
  value: string,
): { source: string; flags: string; regex: CompiledPattern } | null {
  const unescaped = value.includes("\\/") ? value.replaceAll("\\/", "/") : value;
  const match = RUBY_SYNTAX.exec(unescaped);
  if (!match) return null;
  const source = match[1] ?? "";
  const flags = match[2] ?? "";
  const regex = compileRegex(source, flags);
  return regex ? { source, flags, regex } : null;
}
