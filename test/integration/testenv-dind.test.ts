import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerScope, docker, requireDocker, waitUntil } from "./docker-helpers.ts";

// Docker-in-Docker as a GitLab job uses it: a privileged docker:dind service reached through
// the alias "docker", a docker CLI job container relying on the image's own DOCKER_HOST/TLS
// defaults, and a registry service. Everything must work offline (images from scripts/testenv).
const SLOW = 300_000;

describe("DinD images from scripts/testenv", () => {
  const scope = new DockerScope("testenv-dind");
  let network = "";

  beforeAll(async () => {
    await requireDocker();
    network = await scope.network("net");
  });

  afterAll(async () => {
    await scope.cleanup();
  });

  const startDind = async (what: string, runArgs: string[], command: string[]): Promise<string> => {
    const dind = await scope.start(what, [
      "--privileged",
      "--network",
      network,
      "--network-alias",
      "docker",
      ...runArgs,
      "docker:19.03.13-dind",
      ...command,
    ]);
    await waitUntil(
      "the DinD engine",
      async () => (await docker(["exec", dind, "docker", "version"])).code === 0,
      120_000,
    );
    return dind;
  };

  it(
    "serves TLS to a docker CLI job through alias and shared certs; builds --pull FROM alpine:3 and pushes to a registry service",
    async () => {
      const certs = await scope.volume("certs");
      await scope.start("registry", [
        "--network",
        network,
        "--network-alias",
        "registry",
        "registry:2",
      ]);
      const dind = await startDind(
        "dind-tls",
        ["-e", "DOCKER_TLS_CERTDIR=/certs", "-v", `${certs}:/certs/client`],
        ["--insecure-registry", "registry:5000"],
      );

      const script = [
        "set -e",
        'echo "client: $DOCKER_HOST tls=$DOCKER_TLS_VERIFY certs=$DOCKER_CERT_PATH"',
        "mkdir -p /tmp/ctx && cd /tmp/ctx",
        "printf 'FROM alpine:3\\nRUN echo built inside dind > /hello\\n' > Dockerfile",
        "docker build --pull -q -t registry:5000/pier-test/hello:1 .",
        "docker push -q registry:5000/pier-test/hello:1",
        "docker rmi -f registry:5000/pier-test/hello:1 alpine:3 >/dev/null",
        "docker pull -q registry:5000/pier-test/hello:1",
        "docker run --rm registry:5000/pier-test/hello:1 cat /hello",
      ].join("\n");
      const job = await scope.run(
        "job",
        [
          "--rm",
          "--network",
          network,
          "-v",
          `${certs}:/certs/client:ro`,
          "docker:19.03.13",
          "sh",
          "-c",
          script,
        ],
        SLOW,
      );
      expect(job.stderr + job.stdout).toContain(
        "client: tcp://docker:2376 tls=1 certs=/certs/client",
      );
      expect(job.code, job.stderr + job.stdout).toBe(0);
      expect(job.stdout).toContain("built inside dind");

      // The image really left the inner engine: the registry service holds it.
      const tags = await docker([
        "exec",
        dind,
        "bash",
        "-c",
        "exec 3<>/dev/tcp/registry/5000 && printf 'GET /v2/pier-test/hello/tags/list HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3",
      ]);
      expect(tags.stdout).toContain('"tags":["1"]');

      // Plain HTTP on the TLS port is refused.
      const plain = await scope.run("plain-client", [
        "--rm",
        "--network",
        network,
        "-e",
        "DOCKER_HOST=tcp://docker:2376",
        "docker:19.03.13",
        "docker",
        "version",
      ]);
      expect(plain.code).not.toBe(0);
    },
    SLOW,
  );

  it(
    "serves plain TCP on 2375 without DOCKER_TLS_CERTDIR, runs postgres:11.7-alpine offline from its mirror, and inner containers resolve service aliases",
    async () => {
      await startDind("dind-plain", ["-e", "DOCKER_TLS_CERTDIR="], []);
      const script = [
        "set -e",
        'echo "client: $DOCKER_HOST"',
        "docker version --format 'server {{.Server.Version}}'",
        "docker run --rm postgres:11.7-alpine postgres --version",
        // Inner containers resolve the outer network's aliases (the DinD service itself here).
        "docker run --rm alpine:3 nslookup docker",
      ].join("\n");
      const job = await scope.run(
        "job-plain",
        ["--rm", "--network", network, "docker:24", "sh", "-c", script],
        SLOW,
      );
      expect(job.code, job.stderr + job.stdout).toBe(0);
      expect(job.stdout).toContain("client: tcp://docker:2375");
      expect(job.stdout).toMatch(/server \d+\.\d+/);
      expect(job.stdout).toMatch(/postgres \(PostgreSQL\) 15\./);
      expect(job.stdout).toMatch(/Name:\s+docker/);
    },
    SLOW,
  );
});
