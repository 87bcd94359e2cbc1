import type { Server } from "node:http";
import { Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

/** An HTTP(S) server of a test, listening on a free port of 127.0.0.1. */
export interface LoopbackServer {
  /** `http://127.0.0.1:PORT` (or https), without a trailing slash. */
  url: string;
  /** Drops the open connections and stops listening. */
  close(): Promise<void>;
}

export async function listenOnLoopback(server: Server | HttpsServer): Promise<LoopbackServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const scheme = server instanceof HttpsServer ? "https" : "http";
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
