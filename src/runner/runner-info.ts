import { pierVersion } from "../cli/version.ts";
import type { RunnerInfo } from "./runner-api.ts";

/** Go's names for the architectures GitLab shows. */
function goArchitecture(arch: string): string {
  if (arch === "x64") return "amd64";
  if (arch === "ia32") return "386";
  return arch;
}

/** The `info` pier sends with registration, verification and job requests. */
export function runnerInfo(executor: string, features: Record<string, boolean>): RunnerInfo {
  return {
    name: "pier",
    version: pierVersion(),
    revision: "",
    platform: process.platform,
    architecture: goArchitecture(process.arch),
    executor,
    shell: "bash",
    features,
  };
}
