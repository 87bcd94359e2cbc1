import { setTimeout as sleep } from "node:timers/promises";

import { shortId } from "./containers.ts";
import type { EngineTransport } from "./engine-transport.ts";
import { type HijackedStreams, wrapHijackedSocket } from "./hijacked-streams.ts";
import type { RequestOptions } from "./request-options.ts";

export interface ExecCreateConfig {
  Cmd: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  Privileged?: boolean;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
}

export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  Pid: number;
  ContainerID: string;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOperations {
  /** Output is always attached; stdin only with `AttachStdin: true`. */
  create(containerId: string, config: ExecCreateConfig, options?: RequestOptions): Promise<string>;
  /** Starts on a hijacked connection; the streams end when the process exits. */
  start(execId: string, options?: RequestOptions): Promise<HijackedStreams>;
  inspect(execId: string, options?: RequestOptions): Promise<ExecInspect>;
  /**
   * The exit code once the process has exited. The engine may close the output a moment before
   * it records the exit, so this polls briefly.
   */
  exitCode(execId: string, options?: RequestOptions): Promise<number>;
  /** create + start + collect output + exit code: for short commands with small output. */
  run(
    containerId: string,
    config: ExecCreateConfig,
    options?: RequestOptions & { stdin?: string | Buffer },
  ): Promise<ExecResult>;
}

export function execOperations(transport: EngineTransport): ExecOperations {
  const operations: ExecOperations = {
    async create(containerId, config, options = {}) {
      const created = await transport.json<{ Id: string }>({
        method: "POST",
        path: `/containers/${encodeURIComponent(containerId)}/exec`,
        json: { AttachStdout: true, AttachStderr: true, ...config, Tty: false },
        signal: options.signal,
        describeError: ({ status, engineMessage }) =>
          status === 404
            ? `container ${shortId(containerId)} does not exist`
            : status === 409
              ? `cannot exec in container ${shortId(containerId)}: ${engineMessage}`
              : undefined,
      });
      return created.Id;
    },

    async start(execId, options = {}) {
      const socket = await transport.hijack({
        method: "POST",
        path: `/exec/${encodeURIComponent(execId)}/start`,
        json: { Detach: false, Tty: false },
        signal: options.signal,
      });
      return wrapHijackedSocket(socket);
    },

    async inspect(execId, options = {}) {
      return transport.json<ExecInspect>({
        method: "GET",
        path: `/exec/${encodeURIComponent(execId)}/json`,
        signal: options.signal,
      });
    },

    async exitCode(execId, options = {}) {
      for (let attempt = 0; ; attempt++) {
        const state = await operations.inspect(execId, options);
        if (!state.Running && state.ExitCode !== null) return state.ExitCode;
        await sleep(Math.min(5 * 2 ** attempt, 200), undefined, { signal: options.signal });
      }
    },

    async run(containerId, config, options = {}) {
      const withStdin = options.stdin !== undefined;
      const execId = await operations.create(
        containerId,
        { ...config, AttachStdin: withStdin },
        options,
      );
      const streams = await operations.start(execId, options);
      const stdout = collect(streams.stdout);
      const stderr = collect(streams.stderr);
      if (withStdin) streams.stdin.end(options.stdin);
      const [out, err] = await Promise.all([stdout, stderr]);
      streams.destroy();
      return { exitCode: await operations.exitCode(execId, options), stdout: out, stderr: err };
    },
  };
  return operations;
}

async function collect(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
