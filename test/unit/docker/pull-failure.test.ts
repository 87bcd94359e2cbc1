import { describe, expect, it } from "vitest";

import { classifyPullFailure } from "../../../src/docker/pull-failure.ts";

describe("classifyPullFailure", () => {
  it.each([
    [
      'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 10.255.255.53:53: no such host',
      "unreachable",
    ],
    [
      'Get "https://r:5000/v2/": net/http: request canceled (Client.Timeout exceeded)',
      "unreachable",
    ],
    ["Get https://r:5000/v2/: x509: certificate signed by unknown authority", "unreachable"],
    ['Get "https://r:5000/v2/": http: server gave HTTP response to HTTPS client', "unreachable"],
    [
      "manifest for busybox:nope not found: manifest unknown: manifest unknown",
      "missing-or-denied",
    ],
    [
      "pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
      "missing-or-denied",
    ],
    ["unauthorized: authentication required", "missing-or-denied"],
    ["failed to register layer: no space left on device", "other"],
  ])("%s → %s", (message, kind) => {
    expect(classifyPullFailure(message)).toBe(kind);
  });
});
