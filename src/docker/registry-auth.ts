/** Credentials for one registry, as the engine's X-Registry-Auth header carries them. */
export type RegistryAuth =
  | { username: string; password: string; serveraddress?: string }
  | { identitytoken: string; serveraddress?: string };

/**
 * The engine decodes the header as URL-safe base64 *with* padding (Go's URLEncoding);
 * Node's "base64url" drops the padding, which engine 20.10 rejects, so convert by hand.
 * Push needs the header even without credentials, hence `{}` by default.
 */
export function encodeRegistryAuth(auth: RegistryAuth | undefined): string {
  return Buffer.from(JSON.stringify(auth ?? {}), "utf8")
    .toString("base64")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}
