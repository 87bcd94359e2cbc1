import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach } from "vitest";
import { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import {
  ensureBuilt,
  finished,
  makeRepository,
  startPier,
  type PierRun,
} from "../support/pier-cli.ts";

export type LogEvent = Record<string, unknown>;

/** `pier runner run --log-format json` as a child process, its log parsed as it comes. */
export interface ServiceProcess {
  child: ReturnType<typeof startPier>;
  events: LogEvent[];
  exit: Promise<PierRun>;
  /** Resolves with the first log event the predicate accepts (already logged ones included). */
  waitForEvent(predicate: (event: LogEvent) => boolean, timeoutMs?: number): Promise<LogEvent>;
}

/** One test's world: a GitLab stand-in with a project, and a HOME with its own config and state. */
export interface RunnerHome {
  fake: FakeGitLab;
  home: string;
  env: Record<string, string>;
  configFile: string;
  stateDir: string;
  startService(args?: string[]): ServiceProcess;
}

/**
 * Registers the hooks that give every test of the file a fresh RunnerHome (read its fields
 * inside tests) and remove it afterwards, pier processes included.
 */
export function useRunnerHome(projectPath: string): RunnerHome {
  const children: ReturnType<typeof startPier>[] = [];
  let repo = "";
  const world = { children } as unknown as RunnerHome & { children: typeof children };

  beforeAll(() => ensureBuilt());

  beforeEach(async () => {
    world.fake = await FakeGitLab.start();
    world.fake.traceUpdateInterval = 0.2;
    repo = makeRepository({ "a.txt": "a\n" });
    world.fake.addProject(projectPath, repo);
    world.home = mkdtempSync(join(tmpdir(), "pier-runner-ops-"));
    world.env = {
      HOME: world.home,
      XDG_CONFIG_HOME: join(world.home, "config"),
      XDG_STATE_HOME: join(world.home, "state"),
    };
    world.configFile = join(world.home, "config", "pier", "config.toml");
    world.stateDir = join(world.home, "state", "pier");
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    await world.fake.close();
    rmSync(world.home, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  });

  world.startService = (args = []) => {
    const child = startPier(["runner", "run", "--log-format", "json", ...args], world.env);
    children.push(child);
    return followLog(child);
  };
  return world;
}

function followLog(child: ReturnType<typeof startPier>): ServiceProcess {
  const events: LogEvent[] = [];
  const waiters = new Set<() => void>();
  let pending = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) events.push(parseLine(line));
    for (const wake of waiters) wake();
  });
  const waitForEvent = async (
    predicate: (event: LogEvent) => boolean,
    timeoutMs = 60_000,
  ): Promise<LogEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) {
        const seen = events.map((event) => JSON.stringify(event)).join("\n");
        throw new Error(`no such log event; got:\n${seen}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        waiters.add(wake);
      });
    }
  };
  return { child, events, exit: finished(child), waitForEvent };
}

/** A JSON log line; anything else (a crash's stack trace) kept as it is so failures show it. */
function parseLine(line: string): LogEvent {
  try {
    return JSON.parse(line) as LogEvent;
  } catch {
    return { level: "not json", msg: line };
  }
}
