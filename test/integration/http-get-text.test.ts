import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGetText } from "../../src/pipeline/load/http-get-text.ts";

let server: Server;
let base: string;
let seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.push(request.headers);
    const path = request.url ?? "";
    if (path === "/plain") response.end("\uFEFFjob:\n  script: x\n");
    else if (path === "/gzip")
      response.writeHead(200, { "Content-Encoding": "gzip" }).end(gzipSync("zipped: yes\n"));
    else if (path === "/hop") response.writeHead(301, { Location: "sub/../moved" }).end();
    else if (path === "/moved") response.writeHead(302, { Location: "/plain" }).end();
    else if (path === "/loop") response.writeHead(302, { Location: "/loop" }).end();
    else response.writeHead(404).end("not here");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const get = (path: string): ReturnType<typeof httpGetText> =>
  httpGetText(new URL(path, base), AbortSignal.timeout(5_000));

describe("httpGetText (remote includes)", () => {
  it("reads a text as fetch does: byte order mark dropped, identifying headers sent", async () => {
    seen = [];
    expect(await get("/plain")).toEqual({ status: 200, text: "job:\n  script: x\n" });
    expect(seen[0]).toMatchObject({ "user-agent": "pier", accept: "*/*" });
  });

  it("follows relative redirects over several hops", async () => {
    seen = [];
    expect(await get("/hop")).toEqual({ status: 200, text: "job:\n  script: x\n" });
    expect(seen).toHaveLength(3);
  });

  it("decodes a compressed body", async () => {
    expect((await get("/gzip")).text).toBe("zipped: yes\n");
  });

  it("returns other statuses for the caller to word, and gives up on endless redirects", async () => {
    expect((await get("/missing")).status).toBe(404);
    await expect(get("/loop")).rejects.toThrow(/more than 20 redirects/);
  });
});
