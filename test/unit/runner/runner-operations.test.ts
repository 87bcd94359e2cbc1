import { describe, expect, it } from "vitest";
import { parseListenAddress } from "../../../src/runner/metrics-server.ts";
import { endpointOf, RunnerMetrics } from "../../../src/runner/metrics.ts";
import { tokenRotationDue } from "../../../src/runner/token-rotation.ts";

describe("runner metrics", () => {
  it("renders gitlab-runner's families in the Prometheus text format", () => {
    const metrics = new RunnerMetrics();
    const runner = { runner: "abc123def", system_id: "s_0123456789ab" };
    metrics.setConcurrent(4);
    metrics.setLimit(runner, 2);
    metrics.jobStarted(runner);
    metrics.jobStarted(runner);
    metrics.jobFinished(runner, 45, undefined);
    metrics.jobFinished(runner, 5, "script_failure");
    metrics.apiRequest(runner, "request_job", 201);
    metrics.logged("warning");
    const text = metrics.render();
    const lines = text.split("\n");
    expect(text.endsWith("\n")).toBe(true);
    expect(lines).toContain("# TYPE gitlab_runner_job_duration_seconds histogram");
    expect(lines).toContain("gitlab_runner_concurrent 4");
    expect(lines).toContain('gitlab_runner_limit{runner="abc123def",system_id="s_0123456789ab"} 2');
    expect(lines).toContain(
      'gitlab_runner_jobs{runner="abc123def",system_id="s_0123456789ab",state="running"} 0',
    );
    expect(lines).toContain(
      'gitlab_runner_jobs_total{runner="abc123def",system_id="s_0123456789ab"} 2',
    );
    expect(lines).toContain(
      'gitlab_runner_failed_jobs_total{runner="abc123def",system_id="s_0123456789ab",failure_reason="script_failure"} 1',
    );
    const bucket = (le: string): string =>
      `gitlab_runner_job_duration_seconds_bucket{runner="abc123def",system_id="s_0123456789ab",le="${le}"}`;
    expect(lines).toContain(`${bucket("30")} 1`);
    expect(lines).toContain(`${bucket("60")} 2`);
    expect(lines).toContain(`${bucket("+Inf")} 2`);
    expect(lines).toContain(
      'gitlab_runner_job_duration_seconds_sum{runner="abc123def",system_id="s_0123456789ab"} 50',
    );
    expect(lines).toContain(
      'gitlab_runner_job_duration_seconds_count{runner="abc123def",system_id="s_0123456789ab"} 2',
    );
    expect(lines).toContain(
      'gitlab_runner_api_request_statuses_total{runner="abc123def",system_id="s_0123456789ab",endpoint="request_job",status="201"} 1',
    );
    expect(lines).toContain('gitlab_runner_errors_total{level="warning"} 1');
    // Every sample line is `name{labels} value` or `name value`.
    for (const line of lines.filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-z_]+(\{[a-z_]+="[^"\n]*"(,[a-z_]+="[^"\n]*")*\})? [-+\d.eInfNa]+$/);
    }
  });

  it("drops a removed runner's gauges and escapes label values", () => {
    const metrics = new RunnerMetrics();
    metrics.setLimit({ runner: "gone" }, 1);
    metrics.forgetRunner({ runner: "gone" });
    expect(metrics.render()).not.toContain("gitlab_runner_limit");
    metrics.setLimit({ runner: 'a"b\\c' }, 1);
    expect(metrics.render()).toContain('gitlab_runner_limit{runner="a\\"b\\\\c"} 1');
  });

  it("names API endpoints as gitlab-runner does", () => {
    expect(endpointOf("POST", "/api/v4/jobs/request")).toBe("request_job");
    expect(endpointOf("PATCH", "/api/v4/jobs/12/trace")).toBe("patch_trace");
    expect(endpointOf("PUT", "/api/v4/jobs/12")).toBe("update_job");
    expect(endpointOf("POST", "/gitlab/api/v4/jobs/12/artifacts")).toBe("upload_artifacts");
    expect(endpointOf("GET", "/api/v4/jobs/12/artifacts")).toBe("download_artifacts");
    expect(endpointOf("POST", "/api/v4/runners/reset_authentication_token")).toBe("reset_token");
    expect(endpointOf("DELETE", "/api/v4/runners")).toBe("unregister_runner");
  });
});

describe("listen_address", () => {
  it("reads host:port, :port and [v6]:port", () => {
    expect(parseListenAddress("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListenAddress(":9252")).toEqual({ host: undefined, port: 9252 });
    expect(parseListenAddress("[::1]:9252")).toEqual({ host: "::1", port: 9252 });
    expect(() => parseListenAddress("9252")).toThrow(/is not host:port/);
    expect(() => parseListenAddress("localhost:99999")).toThrow(/is not host:port/);
  });
});

describe("token rotation", () => {
  it("is due at 75 % of the token's lifetime", () => {
    const obtained = new Date("2026-01-01T00:00:00Z");
    const expires = new Date("2026-01-05T00:00:00Z");
    expect(tokenRotationDue({ tokenObtainedAt: obtained, tokenExpiresAt: expires })).toEqual(
      new Date("2026-01-04T00:00:00Z"),
    );
  });

  it("never for a token that does not expire (Go's zero time or absent)", () => {
    expect(tokenRotationDue({})).toBeUndefined();
    expect(tokenRotationDue({ tokenExpiresAt: new Date("0001-01-01T00:00:00Z") })).toBeUndefined();
  });

  it("a day before expiry when the lifetime is unknown", () => {
    expect(tokenRotationDue({ tokenExpiresAt: new Date("2026-01-05T00:00:00Z") })).toEqual(
      new Date("2026-01-04T00:00:00Z"),
    );
  });
});
