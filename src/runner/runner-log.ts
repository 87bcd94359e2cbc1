export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Record<string, string | number | boolean | undefined>;

export interface RunnerLog {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** gitlab-runner's level names; `warning`, `fatal` and `panic` fold into pier's four. */
export function logLevelFrom(text: string | undefined): LogLevel {
  switch (text ?? "info") {
    case "debug":
      return "debug";
    case "warn":
    case "warning":
      return "warn";
    case "error":
    case "fatal":
    case "panic":
      return "error";
    default:
      return "info";
  }
}

/** A log whose level can change while it runs (a reloaded config.toml). */
export interface AdjustableRunnerLog extends RunnerLog {
  setLevel(level: string | undefined): void;
}

/**
 * The service's own log on stderr: `text` (and gitlab-runner's `runner`) or `json` lines, one
 * object per line with logrus's fields as gitlab-runner writes them (`level` with `warning`,
 * `msg`, `time`) plus the event's own (`runner`, `job`, …). `onLogged` sees every warning and
 * error (the errors metric), whatever the level.
 */
export function createRunnerLog(
  o: {
    format?: string | undefined;
    level?: string | undefined;
    onLogged?: (level: "warning" | "error") => void;
  },
  write: (line: string) => void = (line) => process.stderr.write(line),
): AdjustableRunnerLog {
  let threshold = ORDER[logLevelFrom(o.level)];
  const json = o.format === "json";
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (level === "warn" || level === "error") o.onLogged?.(level === "warn" ? "warning" : level);
    if (ORDER[level] < threshold) return;
    const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (json) {
      const name = level === "warn" ? "warning" : level;
      write(
        `${JSON.stringify({ level: name, msg: message, time: new Date().toISOString(), ...Object.fromEntries(defined) })}\n`,
      );
      return;
    }
    const tail = defined.map(([key, value]) => ` ${key}=${JSON.stringify(value)}`).join("");
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${tail}\n`);
  };
  return {
    setLevel: (level) => {
      threshold = ORDER[logLevelFrom(level)];
    },
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}
