import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { brotliDecompressSync, gunzipSync, inflateSync } from "node:zlib";
import { deferredTrustContext } from "../../extra-ca-certificates.ts";

const maxRedirects = 20;

/**
 * GET of a text with redirects followed and the body decoded, as `fetch` does. node:http(s)
 * rather than `fetch` so that the CAs of deferredTrustContext apply (Node 20's `fetch` takes
 * no TLS options). Rejects on network errors, too many redirects and when `signal` aborts.
 */
export async function httpGetText(
  url: URL,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  for (let redirects = 0; ; redirects++) {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const headers = {
        "User-Agent": "pier",
        Accept: "*/*",
        "Accept-Encoding": "gzip, deflate, br",
      };
      const secureContext = deferredTrustContext();
      const request =
        url.protocol === "https:"
          ? httpsGet(url, { signal, headers, ...(secureContext && { secureContext }) }, resolve)
          : httpGet(url, { signal, headers }, resolve);
      request.on("error", reject);
    });
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      response.resume();
      if (redirects === maxRedirects) throw new Error(`more than ${maxRedirects} redirects`);
      url = new URL(location, url);
      continue;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const body = decoded(Buffer.concat(chunks), response.headers["content-encoding"]);
    // Like fetch's text(): a byte order mark goes, invalid sequences become U+FFFD.
    return { status, text: new TextDecoder().decode(body) };
  }
}

function decoded(body: Buffer, encoding: string | undefined): Buffer {
  switch ((encoding ?? "").trim().toLowerCase()) {
    case "gzip":
    case "x-gzip":
      return gunzipSync(body);
    case "deflate":
      return inflateSync(body);
    case "br":
      return brotliDecompressSync(body);
    default:
      return body;
  }
}
