import { describe, expect, it } from "vitest";
import { serviceAliases, serviceNamePart } from "../../../src/executors/docker/service-aliases.ts";

describe("serviceAliases", () => {
  it("derives the name aliases from the image path", () => {
    expect(serviceAliases({ name: "postgres:15" })).toEqual(["postgres"]);
    expect(serviceAliases({ name: "docker:19.03.13-dind" })).toEqual(["docker"]);
    expect(serviceAliases({ name: "registry.example.com/group/tool:1" })).toEqual([
      "registry.example.com__group__tool",
      "registry.example.com-group-tool",
    ]);
    expect(serviceAliases({ name: "registry.example.com:5000/group/img:tag" })).toEqual([
      "registry.example.com__group__img",
      "registry.example.com-group-img",
    ]);
    expect(serviceAliases({ name: "busybox@sha256:abcd" })).toEqual(["busybox"]);
  });

  it("adds every alias, separated by commas or spaces", () => {
    expect(serviceAliases({ name: "postgres:15", alias: "db, pg  database,postgres" })).toEqual([
      "postgres",
      "db",
      "pg",
      "database",
    ]);
  });

  it("gives a name-safe part for container names", () => {
    expect(serviceNamePart("registry.example.com:5000/group/img:tag")).toBe(
      "registry.example.com__group__img",
    );
  });
});
