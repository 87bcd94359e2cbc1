import { randomBytes } from "node:crypto";
import type { FakeGitLab, RouteContext } from "./fake-gitlab.ts";

export interface TokenResetOptions {
  /** Lifetime of the tokens handed out, from now; undefined: they never expire. */
  lifetimeMs?: number;
}

/**
 * `POST /api/v4/runners/reset_authentication_token` as GitLab answers it: the runner's
 * current token in the body, 201 with its successor (the old one stops working at once),
 * 403 for a token GitLab does not know. Returns the resets it answered, old → new.
 */
export function serveTokenReset(
  fake: FakeGitLab,
  options: TokenResetOptions = {},
): { resets: { from: string; to: string }[] } {
  const resets: { from: string; to: string }[] = [];
  fake.addRoute(({ record, json }: RouteContext) => {
    if (record.method !== "POST" || record.path !== "/api/v4/runners/reset_authentication_token") {
      return false;
    }
    let body: { token?: unknown } | undefined;
    try {
      body = JSON.parse(record.body.toString("utf8")) as { token?: unknown };
    } catch {
      fake.violations.push("reset_authentication_token: body is not JSON");
    }
    const old = typeof body?.token === "string" ? body.token : "";
    const runner = fake.runners.get(old);
    if (runner === undefined) {
      json(403, { message: "403 Forbidden" });
      return true;
    }
    const token = `glrt-t1_${randomBytes(10).toString("hex")}`;
    fake.runners.delete(old);
    fake.runners.set(token, { ...runner, token });
    resets.push({ from: old, to: token });
    const expires =
      options.lifetimeMs === undefined ? null : new Date(Date.now() + options.lifetimeMs);
    json(201, { token, token_expires_at: expires?.toISOString() ?? null });
    return true;
  });
  return { resets };
}
