import { mkdirSync } from "node:fs";
import { join } from "node:path";

/**
 * A pipeline id no other pier run on this machine has used: its run folder
 * (`runs/<id>/`) is created exclusively, so two runs started in the same millisecond still
 * get different ids. Ids grow with time, like GitLab's.
 */
export function allocatePipelineId(stateDir: string, now = Date.now()): number {
  const runs = join(stateDir, "runs");
  mkdirSync(runs, { recursive: true });
  // Seconds since 2024 keep ids short; the counter below resolves collisions.
  let candidate = Math.floor((now - Date.UTC(2024, 0, 1)) / 1000) * 100;
  for (;;) {
    try {
      mkdirSync(join(runs, String(candidate)));
      return candidate;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      candidate += 1;
    }
  }
}
