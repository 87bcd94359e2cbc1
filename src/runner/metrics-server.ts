import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../errors.ts";

export interface MetricsServer {
  /** `host:port` actually bound (the port resolved when 0 was asked for). */
  address: string;
  close(): Promise<void>;
}

/** `host:port`, `:port` (every interface, as Go's net.Listen reads it) or `[v6]:port`. */
export function parseListenAddress(text: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65535) {
    throw new UsageError(`listen_address "${text}" is not host:port (like 127.0.0.1:9252)`);
  }
  const host = match[1] ?? match[2];
  return { host: host === undefined || host === "" ? undefined : host, port };
}

/**
 * The HTTP server behind `listen_address`: `/metrics` (Prometheus text format) and
 * `/debug/jobs/list` (one line per running job, like gitlab-runner's).
 */
export async function startMetricsServer(
  listenAddress: string,
  pages: { metrics: () => string; jobs: () => string },
): Promise<MetricsServer> {
  const { host, port } = parseListenAddress(listenAddress);
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").replace(/\?.*$/, "");
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { Allow: "GET" }).end();
      return;
    }
    if (path === "/metrics") {
      response
        .writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" })
        .end(pages.metrics());
    } else if (path === "/debug/jobs/list") {
      response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" }).end(pages.jobs());
    } else {
      response.writeHead(404, { "Content-Type": "text/plain" }).end("404 page not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const shownHost = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  return {
    address: `${shownHost}:${String(bound.port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
