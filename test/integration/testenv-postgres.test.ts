import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerScope, docker, dockerOk, requireDocker, waitUntil } from "./docker-helpers.ts";

// The postgres stand-ins built by scripts/testenv, reached as a service by network alias.
describe.each(["postgres:15", "postgres:11.7-alpine"])("%s from scripts/testenv", (image) => {
  const scope = new DockerScope("testenv-postgres");
  let network = "";

  const psql = (password: string, user: string, database: string, sql: string) =>
    scope.run("psql", [
      "--rm",
      "--network",
      network,
      "-e",
      `PGPASSWORD=${password}`,
      image,
      "psql",
      "-h",
      "db",
      "-U",
      user,
      "-d",
      database,
      "-Atc",
      sql,
    ]);

  const startServer = async (what: string, env: string[]): Promise<string> => {
    const server = await scope.start(what, [
      "--network",
      network,
      "--network-alias",
      "db",
      ...env.flatMap((e) => ["-e", e]),
      image,
    ]);
    await waitUntil(`${image} to accept connections`, async () => {
      const ready = await docker(["exec", server, "pg_isready", "-q", "-h", "127.0.0.1"]);
      return ready.code === 0;
    });
    return server;
  };

  beforeAll(async () => {
    await requireDocker();
    network = await scope.network("net");
  });

  afterAll(async () => {
    await scope.cleanup();
  });

  it("accepts a password login by alias, honours POSTGRES_USER and POSTGRES_DB, rejects a wrong password", async () => {
    const server = await startServer("server", [
      "POSTGRES_PASSWORD=s3cret",
      "POSTGRES_USER=app",
      "POSTGRES_DB=appdb",
    ]);

    const ok = await psql(
      "s3cret",
      "app",
      "appdb",
      "select current_user || ' ' || current_database(), 1",
    );
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe("app appdb|1");

    const wrong = await psql("wrong", "app", "appdb", "select 1");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/password authentication failed for user "app"/);

    await dockerOk(["rm", "-fv", server]);
  });

  it("defaults the user and database to postgres", async () => {
    await startServer("default", ["POSTGRES_PASSWORD=pw"]);
    const ok = await psql("pw", "postgres", "postgres", "select 1");
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe("1");
  });

  it("refuses to start without POSTGRES_PASSWORD, as the official image does", async () => {
    const result = await scope.run("nopassword", ["--rm", image]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/POSTGRES_PASSWORD/);
  });
});
