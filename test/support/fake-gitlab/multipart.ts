export interface MultipartPart {
  name: string;
  filename?: string;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Parses a `multipart/form-data` body strictly (RFC 7578): returns the parts, or a reason
 * the body is not well formed. The stand-in uses it to check what the runner uploads.
 */
export function parseMultipart(
  contentType: string | undefined,
  body: Buffer,
): { parts: MultipartPart[] } | { problem: string } {
  const match = /^multipart\/form-data;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(
    contentType ?? "",
  );
  if (match === null) return { problem: `Content-Type is not multipart/form-data: ${contentType}` };
  const boundary = match[1] ?? match[2] ?? "";
  const delimiter = Buffer.from(`--${boundary}`);
  if (!body.subarray(0, delimiter.length).equals(delimiter)) {
    return { problem: "body does not start with the boundary" };
  }
  const parts: MultipartPart[] = [];
  let at = delimiter.length;
  for (;;) {
    const after = body.subarray(at, at + 2).toString("latin1");
    if (after === "--") {
      const rest = body.subarray(at + 2).toString("latin1");
      if (rest !== "\r\n" && rest !== "") return { problem: "bytes after the closing boundary" };
      return { parts };
    }
    if (after !== "\r\n") return { problem: "boundary not followed by CRLF" };
    const headerEnd = body.indexOf("\r\n\r\n", at + 2);
    if (headerEnd < 0) return { problem: "part headers never end" };
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(at + 2, headerEnd)
      .toString("utf8")
      .split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon <= 0) return { problem: `bad part header line: ${line}` };
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headerEnd + 4);
    if (next < 0) return { problem: "part is not closed by the boundary" };
    const disposition = headers["content-disposition"] ?? "";
    const name = /\bname="([^"]*)"/.exec(disposition)?.[1];
    if (!disposition.startsWith("form-data") || name === undefined) {
      return { problem: `part without form-data name: ${disposition}` };
    }
    const filename = /\bfilename="([^"]*)"/.exec(disposition)?.[1];
    parts.push({
      name,
      ...(filename !== undefined && { filename }),
      headers,
      body: body.subarray(headerEnd + 4, next),
    });
    at = next + 2 + delimiter.length;
  }
}
