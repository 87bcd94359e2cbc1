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

/** The service's own log on stderr: `text` (and gitlab-runner's `runner`) or `json` lines. */
export function createRunnerLog(
  o: { format?: string | undefined; level?: string | undefined },
  write: (line: string) => void = (line) => process.stderr.write(line),
): RunnerLog {
  const threshold = ORDER[logLevelFrom(o.level)];
  const json = o.format === "json";
  const emit = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (ORDER[level] < threshold) return;
    const defined = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (json) {
      write(
        `${JSON.stringify({ level, msg: message, time: new Date().toISOString(), ...Object.fromEntries(defined) })}\n`,
      );
      return;
    }
    const tail = defined.map(([key, value]) => ` ${key}=${JSON.stringify(value)}`).join("");
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${tail}\n`);
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}
