import { homedir } from "node:os";
import { join } from "node:path";

/** pier's state directory: `$XDG_STATE_HOME/pier`, by default `~/.local/state/pier`. */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env["XDG_STATE_HOME"];
  // The XDG spec says a relative path is invalid and must be ignored.
  const base =
    xdg !== undefined && xdg.startsWith("/")
      ? xdg
      : join(env["HOME"] ?? homedir(), ".local", "state");
  return join(base, "pier");
}

/** Where one pipeline run keeps its logs, artifacts and report: `runs/<pipeline id>/`. */
export function runDir(stateDir: string, pipelineId: number): string {
  return join(stateDir, "runs", String(pipelineId));
}

/** Parent of the per-job build folders (`builds/<concurrent id>/<project key>/<project concurrent id>`). */
export function buildsRoot(stateDir: string): string {
  return join(stateDir, "builds");
}

/** Checkouts made ahead for a pipeline's next jobs: `builds/.spare/<pid>-<nonce>`. */
export function spareCheckoutsRoot(stateDir: string): string {
  return join(buildsRoot(stateDir), ".spare");
}

/** Packs kept for the Docker executor's local snapshots: `packs/<key>/`, and `packs/.draft-<pid>-…` and `.evict-<pid>-…` while one is written or removed. */
export function packsRoot(stateDir: string): string {
  return join(stateDir, "packs");
}
