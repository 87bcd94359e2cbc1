import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectDocker, type DockerClient } from "../../src/docker/docker-client.ts";
import { JobObjects } from "../../src/executors/docker/job-objects.ts";
import { labelledDockerObjects } from "../support/docker-objects.ts";
import { requireDocker } from "./docker-helpers.ts";
import { executorJobSpec } from "./executor-job-spec.ts";

let client: DockerClient;

beforeAll(async () => {
  await requireDocker();
  client = await connectDocker();
});

afterAll(() => {
  client?.close();
});

describe("a job's Docker objects", () => {
  it("leaves no container behind when the job is canceled while the engine creates one", async () => {
    for (let round = 0; round < 5; round += 1) {
      const objects = new JobObjects(client, executorJobSpec({ script: [], sha: "0" }), "objects");
      const controller = new AbortController();
      const creating = objects.createContainer(
        { Image: "busybox:latest", Cmd: ["true"], Labels: objects.labelsFor("test") },
        `${objects.base}-build`,
        controller.signal,
      );
      // Ctrl-C while the create request is on its way.
      controller.abort();
      await expect(creating).rejects.toThrow();
      expect(await objects.cleanup()).toEqual([]);
      expect(await labelledDockerObjects(client, objects.labels)).toEqual([]);
    }
  });

  it("creates nothing once the job's cleanup has begun", async () => {
    const objects = new JobObjects(client, executorJobSpec({ script: [], sha: "0" }), "objects");
    const cleaned = objects.cleanup();
    await expect(
      objects.createContainer(
        { Image: "busybox:latest", Labels: objects.labelsFor("test") },
        `${objects.base}-late`,
        new AbortController().signal,
      ),
    ).rejects.toThrow(/cleanup has begun/);
    expect(await cleaned).toEqual([]);
    expect(await labelledDockerObjects(client, objects.labels)).toEqual([]);
  });
});
