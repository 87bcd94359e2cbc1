import type { JobVariable } from "../job/spec.ts";

/**
 * Shorter values are not masked: masking "1" or "yes" would shred the whole log and hide
 * nothing worth hiding. GitLab itself refuses to mask values under 8 characters.
 */
export const MIN_MASKED_LENGTH = 4;

/**
 * The phrases to redact for a job: each masked variable's value, and its percent-encoded
 * form when that differs (secrets often end up in URLs). File variables are masked by content.
 */
export function maskPhrases(variables: readonly JobVariable[]): string[] {
  const phrases = new Set<string>();
  for (const variable of variables) {
    if (!variable.masked) continue;
    for (const phrase of phrasesFor(variable.value)) phrases.add(phrase);
  }
  return [...phrases];
}

export function phrasesFor(value: string): string[] {
  if (value.length < MIN_MASKED_LENGTH) return [];
  const encoded = encodeURIComponent(value);
  return encoded === value ? [value] : [value, encoded];
}
