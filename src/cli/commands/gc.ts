import { connectDocker } from "../../docker/docker-client.ts";
import { DockerUnavailableError } from "../../docker/docker-errors.ts";
import { collectGarbage } from "../../gc/collect-garbage.ts";
import { formatBytes } from "../../gc/disk-policy.ts";
import { parseMaxAge, parseMaxSize } from "../../gc/gc-limits.ts";
import { stateRoot } from "../../storage/state-dir.ts";

export interface GcOptions {
  dryRun?: boolean | undefined;
  maxAge: string;
  maxSize?: string | undefined;
}

/** `pier gc`: exit 0 when everything it meant to remove is gone, 1 when something could not be. */
export async function gcCommand(options: GcOptions): Promise<number> {
  const maxAgeMs = parseMaxAge(options.maxAge);
  const maxSizeBytes = options.maxSize === undefined ? undefined : parseMaxSize(options.maxSize);
  const dryRun = options.dryRun === true;
  let client;
  try {
    client = await connectDocker();
  } catch (error) {
    if (!(error instanceof DockerUnavailableError)) throw error;
    process.stderr.write(`pier gc: ${error.message}; cleaning the state dir only\n`);
  }
  try {
    const report = await collectGarbage({
      client,
      stateDir: stateRoot(),
      policy: {
        ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
        ...(maxSizeBytes === undefined ? {} : { maxSizeBytes }),
      },
      dryRun,
    });
    const verb = dryRun ? "would remove" : "removed";
    let failures = 0;
    for (const action of report.actions) {
      if (action.error !== undefined) {
        failures += 1;
        process.stdout.write(
          `kept ${action.kind} ${action.name}: ${action.error} (${action.reason})\n`,
        );
      } else {
        process.stdout.write(`${verb} ${action.kind} ${action.name} (${action.reason})\n`);
      }
    }
    const done = report.actions.length - failures;
    const kept =
      report.keptBytes === undefined ? "" : `; pier keeps ${formatBytes(report.keptBytes)}`;
    process.stdout.write(
      done === 0 && failures === 0
        ? `nothing to remove${kept}\n`
        : `${verb} ${String(done)}${kept}\n`,
    );
    return failures === 0 ? 0 : 1;
  } finally {
    client?.close();
  }
}
