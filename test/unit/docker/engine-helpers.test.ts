import { PassThrough } from "node:stream";

import { describe, expect, it } from "vitest";

import { encodeFilters, labelFilter } from "../../../src/docker/engine-filters.ts";
import { parseImageReference, pinnedReference } from "../../../src/docker/image-reference.ts";
import { readJsonLines } from "../../../src/docker/ndjson.ts";
import { encodeRegistryAuth } from "../../../src/docker/registry-auth.ts";

describe("filters", () => {
  it("encodes labels (with or without value) next to other filters", () => {
    expect(labelFilter({ "pier.managed": "true", "pier.keep": true })).toEqual([
      "pier.managed=true",
      "pier.keep",
    ]);
    expect(encodeFilters(undefined)).toBeUndefined();
    expect(encodeFilters({}, {})).toBeUndefined();
    expect(
      JSON.parse(encodeFilters({ label: ["a=b"], type: ["container"] }, { c: "d" }) ?? ""),
    ).toEqual({
      label: ["a=b", "c=d"],
      type: ["container"],
    });
  });
});

describe("image references", () => {
  it("splits repository, tag and digest, with registry ports", () => {
    expect(parseImageReference("busybox")).toEqual({ repository: "busybox" });
    expect(parseImageReference("registry:5000/group/app:1.2")).toEqual({
      repository: "registry:5000/group/app",
      tag: "1.2",
    });
    expect(parseImageReference("registry:5000/group/app")).toEqual({
      repository: "registry:5000/group/app",
    });
    expect(parseImageReference("app@sha256:abc")).toEqual({
      repository: "app",
      digest: "sha256:abc",
    });
  });

  it("never pulls every tag: a bare name means :latest", () => {
    expect(pinnedReference("busybox")).toBe("busybox:latest");
    expect(pinnedReference("localhost:5000/x")).toBe("localhost:5000/x:latest");
    expect(pinnedReference("docker:19.03.13-dind")).toBe("docker:19.03.13-dind");
    expect(pinnedReference("app:1@sha256:abc")).toBe("app@sha256:abc");
  });
});

describe("X-Registry-Auth", () => {
  it("is URL-safe base64 with padding (what engine 20.10 decodes)", () => {
    const header = encodeRegistryAuth({
      username: "u",
      password: "p?>>~",
      serveraddress: "r:5000",
    });
    expect(header).not.toMatch(/[+/]/);
    const decoded = Buffer.from(header.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString(
      "utf8",
    );
    expect(JSON.parse(decoded)).toEqual({
      username: "u",
      password: "p?>>~",
      serveraddress: "r:5000",
    });
    expect(header.length % 4).toBe(0);
    expect(encodeRegistryAuth(undefined)).toBe(Buffer.from("{}").toString("base64"));
  });
});

describe("readJsonLines", () => {
  it("yields objects as lines complete, across chunk and UTF-8 boundaries", async () => {
    const source = new PassThrough();
    const text = Buffer.from('{"status":"Pulling ✓"}\n\n{"id":"a"', "utf8");
    const split = text.indexOf(Buffer.from("✓")) + 1;
    source.write(text.subarray(0, split));
    source.write(text.subarray(split));
    source.end(',"status":"Done"}');
    const lines: unknown[] = [];
    for await (const line of readJsonLines(source)) lines.push(line);
    expect(lines).toEqual([{ status: "Pulling ✓" }, { id: "a", status: "Done" }]);
  });
});
