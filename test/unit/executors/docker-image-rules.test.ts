import { describe, expect, it } from "vitest";
import {
  allowedByList,
  checkAllowedImage,
  DisallowedRequestError,
  privilegeFor,
  pullPoliciesFor,
} from "../../../src/executors/docker/image-rules.ts";
import { shellDetectionCommand } from "../../../src/executors/docker/shell-detection.ts";
import { dockerSettingsFrom, parseByteSize } from "../../../src/runner/runner-config.ts";
import { UsageError } from "../../../src/errors.ts";

describe("dockerSettingsFrom", () => {
  it("reads gitlab-runner's [runners.docker] keys with pier's defaults", () => {
    const settings = dockerSettingsFrom({
      image: "alpine:3",
      privileged: true,
      volumes: ["/cache", "/certs/client"],
      memory: "512m",
      cpus: "1.5",
      shm_size: 67108864,
      cap_drop: ["NET_RAW"],
      wait_for_services_timeout: 60,
    });
    expect(settings).toMatchObject({
      image: "alpine:3",
      privileged: true,
      volumes: ["/cache", "/certs/client"],
      memory: 512 * 1024 * 1024,
      nanoCpus: 1_500_000_000,
      shmSize: 67108864,
      capDrop: ["NET_RAW"],
      waitForServicesTimeout: 60,
      pullPolicy: ["if-not-present"],
      servicesReadiness: "warn",
    });
    expect(dockerSettingsFrom(undefined).waitForServicesTimeout).toBe(30);
  });

  it("refuses values of the wrong kind", () => {
    expect(() => dockerSettingsFrom({ privileged: "yes" })).toThrow(UsageError);
    expect(() => dockerSettingsFrom({ pull_policy: "sometimes" })).toThrow(/pull_policy/);
    expect(() => dockerSettingsFrom({ services_readiness: "maybe" })).toThrow(/services_readiness/);
    expect(() => dockerSettingsFrom({ memory: "lots" })).toThrow(/memory/);
  });

  it("parses Docker's size syntax", () => {
    expect(parseByteSize("1g")).toBe(1024 ** 3);
    expect(parseByteSize("64MB")).toBe(64 * 1024 ** 2);
    expect(parseByteSize("100")).toBe(100);
    expect(parseByteSize("x")).toBeUndefined();
  });
});

describe("image rules", () => {
  it("matches allow lists as globs, empty allowing all", () => {
    expect(allowedByList("anything:1", [])).toBe(true);
    expect(allowedByList("docker:24-dind", ["docker:*-dind"])).toBe(true);
    expect(allowedByList("registry.example.com/group/img:1", ["registry.example.com/**"])).toBe(
      true,
    );
    expect(allowedByList("evil/docker:24-dind", ["docker:*-dind"])).toBe(false);
    const settings = dockerSettingsFrom({ allowed_images: ["debian:*"] });
    expect(() => checkAllowedImage("busybox", "image", settings)).toThrow(DisallowedRequestError);
  });

  it("grants privilege only when configured and allowed", () => {
    const off = dockerSettingsFrom({});
    expect(privilegeFor("docker:24-dind", "service", off)).toBe(false);
    const on = dockerSettingsFrom({
      privileged: true,
      allowed_privileged_services: ["docker:*-dind"],
    });
    expect(privilegeFor("docker:24-dind", "service", on)).toBe(true);
    expect(() => privilegeFor("busybox", "service", on)).toThrow(/privileged mode is not allowed/);
    expect(privilegeFor("busybox", "image", on)).toBe(true);
    const servicesOnly = dockerSettingsFrom({ services_privileged: true });
    expect(privilegeFor("busybox", "image", servicesOnly)).toBe(false);
    expect(privilegeFor("docker:dind", "service", servicesOnly)).toBe(true);
  });

  it("takes the job's pull policies when allowed, else the runner's", () => {
    const settings = dockerSettingsFrom({
      pull_policy: ["always", "if-not-present"],
      allowed_pull_policies: ["if-not-present", "never"],
    });
    expect(pullPoliciesFor(undefined, settings)).toEqual(["if-not-present"]);
    expect(pullPoliciesFor(["never"], settings)).toEqual(["never"]);
    expect(() => pullPoliciesFor(["always"], settings)).toThrow(/allowed_pull_policies/);
    expect(pullPoliciesFor(undefined, dockerSettingsFrom({}))).toEqual(["if-not-present"]);
  });
});

describe("shellDetectionCommand", () => {
  it("prefers bash, then sh, in gitlab-runner's order", () => {
    const [sh, flag, script] = shellDetectionCommand();
    expect([sh, flag]).toEqual(["sh", "-c"]);
    expect(script?.indexOf("/bin/bash")).toBeLessThan(script?.indexOf("/bin/sh") ?? 0);
    expect(script).toContain("/busybox/sh");
    expect(script).toContain("shell not found");
  });
});
