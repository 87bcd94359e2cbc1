import type { DockerClient } from "../../src/docker/docker-client.ts";

async function textOf(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/**
 * Starts a created container (made with OpenStdin, StdinOnce, AttachStdin and a `sh -s` command),
 * writes `script` to its stdin and closes it, and returns what the script printed and its exit
 * code: attach with stdin, wait and half-close, as a job's script goes.
 */
export async function runAttachedScript(
  docker: DockerClient,
  containerId: string,
  script: string,
): Promise<{ stdout: string; stderr: string; code: number }> {
  const streams = await docker.containers.attach(containerId, { stdin: true });
  const pending = await docker.containers.beginWait(containerId, { condition: "next-exit" });
  await docker.containers.start(containerId);
  streams.stdin.end(script);
  const [stdout, stderr, exit] = await Promise.all([
    textOf(streams.stdout),
    textOf(streams.stderr),
    pending.exit,
  ]);
  return { stdout, stderr, code: exit.StatusCode };
}
