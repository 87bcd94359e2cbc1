import { accessSync, constants } from "node:fs";

export interface HostShell {
  /** "bash" or "sh": decides which options the generated script may use. */
  kind: "bash" | "sh";
  path: string;
}

// The places gitlab-runner's detection script probes, bash first.
const CANDIDATES: readonly HostShell[] = [
  { kind: "bash", path: "/usr/local/bin/bash" },
  { kind: "bash", path: "/usr/bin/bash" },
  { kind: "bash", path: "/bin/bash" },
  { kind: "sh", path: "/usr/local/bin/sh" },
  { kind: "sh", path: "/usr/bin/sh" },
  { kind: "sh", path: "/bin/sh" },
];

let found: HostShell | undefined;

/** The shell jobs run in: bash when the host has it, else sh. */
export function findHostShell(): HostShell | undefined {
  if (found !== undefined) return found;
  for (const candidate of CANDIDATES) {
    try {
      accessSync(candidate.path, constants.X_OK);
      found = candidate;
      return found;
    } catch {
      // Not there; try the next one.
    }
  }
  return undefined;
}
