import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Serves bare repositories under `projectRoot` with git's own smart HTTP server
 * (`git http-backend`, run as a CGI program), so clones go through a real git protocol.
 */
export function serveGit(
  request: IncomingMessage,
  response: ServerResponse,
  o: { projectRoot: string; pathInfo: string; query: string; remoteUser: string },
): void {
  const child = spawn("git", ["http-backend"], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: o.projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      REQUEST_METHOD: request.method ?? "GET",
      PATH_INFO: o.pathInfo,
      QUERY_STRING: o.query,
      CONTENT_TYPE: request.headers["content-type"] ?? "",
      REMOTE_USER: o.remoteUser,
      REMOTE_ADDR: request.socket.remoteAddress ?? "127.0.0.1",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: "HTTP/1.1",
      ...(request.headers["content-encoding"] !== undefined && {
        HTTP_CONTENT_ENCODING: request.headers["content-encoding"],
      }),
      ...(request.headers["git-protocol"] !== undefined && {
        GIT_PROTOCOL: String(request.headers["git-protocol"]),
      }),
    },
    stdio: ["pipe", "pipe", "ignore"],
  });
  request.pipe(child.stdin);
  child.stdin.on("error", () => undefined);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (headersDone) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf("\r\n\r\n");
    const separator = end >= 0 ? 4 : 2;
    const at = end >= 0 ? end : head.indexOf("\n\n");
    if (at < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, at).toString("latin1").split(/\r?\n/)) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === "status") status = Number.parseInt(value, 10);
      else response.setHeader(name, value);
    }
    response.writeHead(status);
    response.write(head.subarray(at + separator));
  });
  child.on("close", () => {
    if (!headersDone) response.writeHead(500);
    response.end();
  });
  child.on("error", () => {
    if (!response.headersSent) response.writeHead(500);
    response.end();
  });
}
