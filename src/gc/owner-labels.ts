import { currentProcess, type ProcessIdentity } from "../storage/process-identity.ts";

/** Labels every Docker object pier creates carries; `pier gc` reads `pier.owner` to find dead owners. */
export const MANAGED_LABEL = "pier.managed";
export const OWNER_LABEL = "pier.owner";
export const PID_LABEL = "pier.pid";
export const KEEP_LABEL = "pier.keep";

/**
 * `pier.owner=<pid>-<start>`: the pid plus the process start time (clock ticks since boot), so
 * an object is never taken for a live pier's when the pid has been reused.
 */
export function ownerLabelValue(identity: ProcessIdentity = currentProcess()): string {
  return identity.start === "" ? String(identity.pid) : `${String(identity.pid)}-${identity.start}`;
}

/** The owner labels of this process: `pier.managed`, `pier.owner`, `pier.pid`. */
export function ownerLabels(identity: ProcessIdentity = currentProcess()): Record<string, string> {
  return {
    [MANAGED_LABEL]: "true",
    [OWNER_LABEL]: ownerLabelValue(identity),
    [PID_LABEL]: String(identity.pid),
  };
}

/**
 * The owning process named by an object's labels: `pier.owner` as `<pid>-<start>` (or a bare
 * pid), else `pier.pid` (with `pier.started` when present). Undefined when no label names one:
 * such an object is never collected as orphaned.
 */
export function ownerOf(
  labels: Readonly<Record<string, string>> | null,
): ProcessIdentity | undefined {
  if (labels === null) return undefined;
  const owner = labels[OWNER_LABEL];
  const match = owner === undefined ? null : /^(\d+)(?:-(\d+))?$/.exec(owner);
  if (match?.[1] !== undefined) return { pid: Number(match[1]), start: match[2] ?? "" };
  const pid = labels[PID_LABEL];
  if (pid !== undefined && /^\d+$/.test(pid)) {
    return { pid: Number(pid), start: labels["pier.started"] ?? "" };
  }
  return undefined;
}
