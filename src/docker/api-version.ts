/**
 * The newest API version whose calls we use unchanged. Engines from 25 on refuse versions
 * below 1.44 by default, engine 20.10 speaks at most 1.41, so we speak whatever both sides know.
 */
export const MAX_API_VERSION = "1.47";
/** Oldest engine API we accept (Docker 19.03): `condition=next-exit`, Mounts, Init, NanoCpus. */
export const MIN_API_VERSION = "1.40";

export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor !== bMajor ? aMajor - bMajor : aMinor - bMinor;
}

export function isApiVersion(text: string): boolean {
  return /^\d+\.\d+$/.test(text);
}

/**
 * The version to put in every path: min(ours, the server's `Api-Version`). A server that does
 * not say (very old, or a proxy) gets our minimum, the version most likely to be understood.
 */
export function negotiateApiVersion(serverVersion: string | undefined): string {
  if (serverVersion === undefined || !isApiVersion(serverVersion)) return MIN_API_VERSION;
  return compareApiVersions(serverVersion, MAX_API_VERSION) < 0 ? serverVersion : MAX_API_VERSION;
}
