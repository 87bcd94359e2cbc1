import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ensureRegistryTls } from "../../src/executors/docker/ci-registry-tls.ts";
import { isDindService, withRegistryCa } from "../../src/executors/docker/dind-service.ts";
import { layerCacheVolumeName } from "../../src/executors/docker/layer-cache.ts";
import { needsRegistry } from "../../src/executors/docker/registry-hooks.ts";
import { readRegistrySettings } from "../../src/executors/docker/registry-settings.ts";
import type { JobSpec } from "../../src/job/spec.ts";

function spec(parts: Partial<JobSpec>): JobSpec {
  return { variables: [], steps: [], services: [], ...parts } as unknown as JobSpec;
}

describe("CI registry settings and DinD detection (pure)", () => {
  it("recognises DinD service images", () => {
    for (const name of [
      "docker:19.03.13-dind",
      "docker:dind",
      "docker:24-dind-rootless",
      "registry.example.com:5000/tools/docker:24-dind",
      "example/dind",
      "docker:24-dind@sha256:abc",
    ]) {
      expect(isDindService({ name }), name).toBe(true);
    }
    for (const name of [
      "docker:19.03.13",
      "postgres:15",
      "dind-tools/cli:1",
      "docker:latest",
      "mydocker:dind",
    ]) {
      expect(isDindService({ name }), name).toBe(false);
    }
  });

  it("mounts the CA where the daemon looks for it, with a host:port target through Mounts", () => {
    const config = withRegistryCa(
      { Image: "docker:dind", HostConfig: { Privileged: true } },
      "registry.example.com:5000",
      "/ca.pem",
    );
    expect(config.HostConfig).toEqual({
      Privileged: true,
      Mounts: [
        {
          Type: "bind",
          Source: "/ca.pem",
          Target: "/etc/docker/certs.d/registry.example.com:5000/ca.crt",
          ReadOnly: true,
        },
      ],
    });
  });

  it("reads the pier_* keys of [runners.docker] and refuses bad ones", () => {
    expect(readRegistrySettings(undefined)).toEqual({ enabled: true, dindLayerCache: false });
    const dir = mkdtempSync(join(tmpdir(), "pier-registry-settings-"));
    try {
      writeFileSync(join(dir, "ca.pem"), "");
      expect(
        readRegistrySettings({
          pier_registry_url: "https://registry.example.com:5000/",
          pier_registry_username: "ci",
          pier_registry_password: "secret",
          pier_registry_ca_file: join(dir, "ca.pem"),
          pier_dind_layer_cache: true,
        }),
      ).toMatchObject({
        externalUrl: "registry.example.com:5000",
        username: "ci",
        caFile: join(dir, "ca.pem"),
        dindLayerCache: true,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => readRegistrySettings({ pier_registry_url: "registry example" })).toThrow(
      /host\[:port\]/,
    );
    expect(() => readRegistrySettings({ pier_dind_layer_cache: "yes" })).toThrow(/true or false/);
    expect(() => readRegistrySettings({ pier_registry_ca_file: "/nonexistent/ca.pem" })).toThrow(
      /does not exist/,
    );
  });

  it("starts the registry only for jobs that use it", () => {
    const host = "registry.pier.local";
    expect(needsRegistry(spec({ services: [{ name: "docker:24-dind" }] }), host)).toBe(true);
    expect(
      needsRegistry(
        spec({
          steps: [
            {
              name: "script",
              script: ["docker push $CI_REGISTRY_IMAGE"],
              timeout: 1,
              when: "on_success",
              allow_failure: false,
            },
          ],
        }),
        host,
      ),
    ).toBe(true);
    expect(
      needsRegistry(
        spec({
          variables: [
            {
              key: "IMAGE",
              value: "registry.pier.local/g/p:1",
              public: true,
              masked: false,
              file: false,
              raw: false,
            },
          ],
        }),
        host,
      ),
    ).toBe(true);
    expect(
      needsRegistry(
        spec({
          variables: [
            {
              key: "CI_REGISTRY",
              value: host,
              public: true,
              masked: false,
              file: false,
              raw: false,
            },
          ],
        }),
        host,
      ),
    ).toBe(false);
    expect(needsRegistry(spec({ services: [{ name: "postgres:15" }] }), host)).toBe(false);
  });

  it("names layer-cache volumes per project and slot, engine-safe", () => {
    const name = layerCacheVolumeName("group/sub group/app", 1);
    expect(name).toMatch(/^pier-dind-cache-group-sub-group-app-[0-9a-f]{8}-1$/);
    expect(layerCacheVolumeName("group/sub-group/app", 1)).not.toBe(name);
  });

  it("makes the CA and server certificate once, and says what to do without openssl", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-registry-tls-"));
    const path = process.env["PATH"];
    try {
      const tls = await ensureRegistryTls(dir, "registry.pier.local");
      const { execFileSync } = await import("node:child_process");
      const text = execFileSync(
        "openssl",
        ["x509", "-in", tls.serverCert, "-noout", "-ext", "subjectAltName"],
        { encoding: "utf8" },
      );
      expect(text).toContain("DNS:registry.pier.local");
      execFileSync("openssl", ["verify", "-CAfile", tls.caFile, tls.serverCert]);
      expect(await ensureRegistryTls(dir, "registry.pier.local")).toEqual(tls);
      process.env["PATH"] = "/nonexistent";
      await expect(ensureRegistryTls(dir, "other.example")).rejects.toThrow(
        /needs the openssl command/,
      );
    } finally {
      process.env["PATH"] = path;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
