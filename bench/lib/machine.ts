import { execFileSync } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";

export interface MachineFacts {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  nodeVersion: string;
  gitCommit: string;
}

/** What a reader needs to judge a recorded number: the machine, the code, the runtime. */
export function machineFacts(repositoryRoot: string): MachineFacts {
  const processors = cpus();
  return {
    cores: processors.length,
    cpuModel: processors[0]?.model.trim() ?? "unknown CPU",
    memoryGb: totalmem() / 1024 ** 3,
    nodeVersion: process.version,
    gitCommit: gitDescribe(repositoryRoot),
  };
}

function gitDescribe(repositoryRoot: string): string {
  try {
    return execFileSync("git", ["describe", "--always", "--dirty", "--abbrev=10"], {
      cwd: repositoryRoot,
      encoding: "utf8",
    }).trim();
  } catch {
    return "unknown";
  }
}

export function formatLoad(load: readonly number[]): string {
  return load.map((value) => value.toFixed(2)).join(" ");
}

export function currentLoad(): string {
  return formatLoad(loadavg());
}
