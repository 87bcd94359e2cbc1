import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";

/** Where bin/pier.js leaves the NODE_EXTRA_CA_CERTS file Node was started without. */
const launcherKey = Symbol.for("pier.deferredExtraCaCerts");

let loaded: { file: string; certificates: string[]; context?: SecureContext } | undefined;

/**
 * The CAs pier's own TLS clients trust when nothing more specific is configured: undefined
 * (Node's default store) unless the `pier` command started Node without NODE_EXTRA_CA_CERTS
 * (see bin/pier.js); then Node's roots plus that file's certificates, as Node would have had
 * them, read at the first connection. An unreadable file is ignored with Node's warning.
 */
export function deferredTrustedCertificates(): string[] | undefined {
  const file = (globalThis as Record<symbol, unknown>)[launcherKey];
  if (typeof file !== "string" || file === "") return undefined;
  if (loaded?.file === file) return loaded.certificates;
  const certificates = [...rootCertificates];
  try {
    certificates.push(readFileSync(file, "latin1"));
  } catch (error) {
    process.emitWarning(
      `Ignoring extra certs from \`${file}\`, load failed: ${(error as Error).message}`,
    );
  }
  loaded = { file, certificates };
  return certificates;
}

/**
 * A TLS context trusting deferredTrustedCertificates, made once: building one parses every
 * certificate (about 100 ms for Debian's bundle), which Node would otherwise do again for each
 * connection given a `ca` list. Undefined: Node's default context serves.
 */
export function deferredTrustContext(): SecureContext | undefined {
  const certificates = deferredTrustedCertificates();
  if (certificates === undefined || loaded === undefined) return undefined;
  loaded.context ??= createSecureContext({ ca: certificates });
  return loaded.context;
}
