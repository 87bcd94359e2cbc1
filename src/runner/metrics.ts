import { pierVersion } from "../cli/version.ts";

type Labels = Record<string, string>;

interface Family {
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** Series by their rendered label set. */
  series: Map<string, { labels: Labels; value: number }>;
}

/** gitlab-runner's job duration buckets (seconds). */
export const JOB_DURATION_BUCKETS = [30, 60, 300, 600, 1800, 3600, 7200, 10800, 18000, 36000];

/** Endpoint names as gitlab-runner's `gitlab_runner_api_request_statuses_total` has them. */
export function endpointOf(method: string, path: string): string {
  const route = path.replace(/^.*\/api\/v4\//, "").replace(/\?.*$/, "");
  if (route === "jobs/request") return "request_job";
  if (/^jobs\/\d+\/trace$/.test(route)) return "patch_trace";
  if (/^jobs\/\d+\/artifacts$/.test(route)) {
    return method === "POST" ? "upload_artifacts" : "download_artifacts";
  }
  if (/^jobs\/\d+$/.test(route)) return "update_job";
  if (route === "runners/reset_authentication_token") return "reset_token";
  if (route === "runners/verify") return "verify_runner";
  if (route === "runners") return method === "DELETE" ? "unregister_runner" : "register_runner";
  return "other";
}

/**
 * The runner's Prometheus metrics, with gitlab-runner's names and labels where it has them,
 * rendered in the text exposition format (no client library: a handful of series).
 */
export class RunnerMetrics {
  readonly #families = new Map<string, Family>();
  readonly #started = Date.now() / 1000;

  constructor() {
    this.#define("gitlab_runner_version_info", "gauge", "Runner version information.");
    this.#define("gitlab_runner_concurrent", "gauge", "The current value of concurrent setting.");
    this.#define("gitlab_runner_limit", "gauge", "The current value of limit setting.");
    this.#define("gitlab_runner_jobs", "gauge", "The current number of running builds.");
    this.#define("gitlab_runner_jobs_total", "counter", "Total number of handled jobs.");
    this.#define(
      "gitlab_runner_failed_jobs_total",
      "counter",
      "Total number of failed jobs, by failure reason.",
    );
    this.#define("gitlab_runner_job_duration_seconds", "histogram", "Job duration histogram.");
    this.#define(
      "gitlab_runner_api_request_statuses_total",
      "counter",
      "The total number of API requests, partitioned by runner, endpoint and status.",
    );
    this.#define(
      "gitlab_runner_errors_total",
      "counter",
      "The number of caught errors (warnings and errors logged).",
    );
    this.#define("gitlab_runner_request_concurrency", "gauge", "Job requests in flight.");
    this.#define(
      "process_start_time_seconds",
      "gauge",
      "Start time of the process since unix epoch in seconds.",
    );
    this.#define("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    this.#set("gitlab_runner_version_info", versionLabels(), 1);
    this.#set("process_start_time_seconds", {}, this.#started);
  }

  setConcurrent(value: number): void {
    this.#set("gitlab_runner_concurrent", {}, value);
  }

  setLimit(runner: Labels, value: number): void {
    this.#set("gitlab_runner_limit", runner, value);
  }

  /**
   * A runner entry left the configuration: its limit goes. Its job and request gauges stay:
   * jobs it took still run and count down to 0 (counters stay, as Prometheus expects).
   */
  forgetRunner(runner: Labels): void {
    const family = this.#families.get("gitlab_runner_limit");
    for (const [key, series] of family?.series ?? []) {
      if (series.labels["runner"] === runner["runner"]) family?.series.delete(key);
    }
  }

  jobStarted(runner: Labels): void {
    this.#add("gitlab_runner_jobs_total", runner, 1);
    this.#add("gitlab_runner_jobs", { ...runner, state: "running" }, 1);
  }

  jobFinished(runner: Labels, durationSeconds: number, failureReason: string | undefined): void {
    this.#add("gitlab_runner_jobs", { ...runner, state: "running" }, -1);
    if (failureReason !== undefined) {
      this.#add("gitlab_runner_failed_jobs_total", { ...runner, failure_reason: failureReason }, 1);
    }
    for (const le of JOB_DURATION_BUCKETS) {
      if (durationSeconds <= le) {
        this.#add("gitlab_runner_job_duration_seconds", { ...runner, le: String(le) }, 1);
      }
    }
    this.#add("gitlab_runner_job_duration_seconds", { ...runner, le: "+Inf" }, 1);
    this.#add("gitlab_runner_job_duration_seconds", { ...runner, __sum: "" }, durationSeconds);
  }

  requestsInFlight(runner: Labels, delta: number): void {
    this.#add("gitlab_runner_request_concurrency", runner, delta);
  }

  apiRequest(runner: Labels, endpoint: string, status: number): void {
    this.#add(
      "gitlab_runner_api_request_statuses_total",
      { ...runner, endpoint, status: String(status) },
      1,
    );
  }

  logged(level: "warning" | "error"): void {
    this.#add("gitlab_runner_errors_total", { level }, 1);
  }

  /** The text exposition format (version 0.0.4). */
  render(): string {
    this.#set("process_resident_memory_bytes", {}, process.memoryUsage.rss());
    const lines: string[] = [];
    for (const [name, family] of this.#families) {
      if (family.series.size === 0) continue;
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      if (family.type === "histogram") {
        lines.push(...renderHistogram(name, family));
        continue;
      }
      for (const { labels, value } of family.series.values()) {
        lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  #define(name: string, type: Family["type"], help: string): void {
    this.#families.set(name, { type, help, series: new Map() });
  }

  #set(name: string, labels: Labels, value: number): void {
    const family = this.#families.get(name);
    family?.series.set(formatLabels(labels), { labels, value });
  }

  #add(name: string, labels: Labels, delta: number): void {
    const family = this.#families.get(name);
    if (family === undefined) return;
    const key = formatLabels(labels);
    const series = family.series.get(key);
    if (series === undefined) family.series.set(key, { labels, value: delta });
    else series.value += delta;
  }
}

function renderHistogram(name: string, family: Family): string[] {
  // Series are kept per bucket (`le`) plus a `__sum` marker; grouped back by their other labels.
  const groups = new Map<string, { labels: Labels; buckets: Map<string, number>; sum: number }>();
  for (const { labels, value } of family.series.values()) {
    const { le, __sum, ...rest } = labels;
    const key = formatLabels(rest);
    let group = groups.get(key);
    if (group === undefined) {
      group = { labels: rest, buckets: new Map(), sum: 0 };
      groups.set(key, group);
    }
    if (__sum !== undefined) group.sum = value;
    else if (le !== undefined) group.buckets.set(le, value);
  }
  const lines: string[] = [];
  for (const { labels, buckets, sum } of groups.values()) {
    for (const le of [...JOB_DURATION_BUCKETS.map(String), "+Inf"]) {
      lines.push(`${name}_bucket${formatLabels({ ...labels, le })} ${buckets.get(le) ?? 0}`);
    }
    lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
    lines.push(`${name}_count${formatLabels(labels)} ${buckets.get("+Inf") ?? 0}`);
  }
  return lines;
}

function versionLabels(): Labels {
  return {
    name: "pier",
    version: pierVersion(),
    revision: "",
    branch: "",
    go_version: "",
    built_at: "",
    os: process.platform,
    architecture: process.arch === "x64" ? "amd64" : process.arch,
  };
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  const text = entries
    .map(
      ([key, value]) =>
        `${key}="${value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')}"`,
    )
    .join(",");
  return `{${text}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(value);
}
