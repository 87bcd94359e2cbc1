import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The last gitlab-ci-local release that starts on Node 20 (4.74.0+ needs Node 22). */
export const gitlabCiLocalVersion = "4.73.0";

export type Availability = { entry: string } | { unavailable: string };

/**
 * Installs gitlab-ci-local into bench/.work/gcl (not committed) unless it is already there, and
 * returns the script to run with node, or why it cannot be used.
 */
export function ensureGitlabCiLocal(root: string, progress: (text: string) => void): Availability {
  const prefix = join(root, "bench", ".work", "gcl");
  const packageDir = join(prefix, "node_modules", "gitlab-ci-local");
  const entry = join(packageDir, "dist", "index.js");
  if (installedVersion(packageDir) !== gitlabCiLocalVersion || !existsSync(entry)) {
    progress(`installing gitlab-ci-local ${gitlabCiLocalVersion} into ${prefix}…\n`);
    mkdirSync(prefix, { recursive: true });
    const install = spawnSync(
      "npm",
      [
        "install",
        "--prefix",
        prefix,
        "--no-audit",
        "--no-fund",
        "--save-exact",
        `gitlab-ci-local@${gitlabCiLocalVersion}`,
      ],
      { cwd: prefix, encoding: "utf8" },
    );
    if (install.status !== 0 || !existsSync(entry)) {
      const why = `${install.stderr}`.trim().split("\n").slice(-3).join(" / ");
      return {
        unavailable: `could not install gitlab-ci-local ${gitlabCiLocalVersion} with npm (${why || "no output"})`,
      };
    }
  }
  const rsync = ensureHostTool("rsync", progress);
  if (rsync !== undefined) return { unavailable: rsync };
  return { entry };
}

function installedVersion(packageDir: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
      version?: string;
    };
    return manifest.version;
  } catch {
    return undefined;
  }
}

/**
 * gitlab-ci-local reads every GCL* environment variable as a command-line option; a stray one
 * breaks it, so its runs get an environment without them.
 */
export function environmentForGitlabCiLocal(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toUpperCase().startsWith("GCL")),
  );
}

/**
 * Makes sure a host tool is on PATH, installing the Debian package of the same name when
 * running as root; returns why it is missing otherwise.
 */
export function ensureHostTool(tool: string, progress: (text: string) => void): string | undefined {
  if (onPath(tool)) return undefined;
  if (process.getuid?.() !== 0) {
    return `${tool} is not installed and gitlab-ci-local needs it (install it: apt-get install ${tool})`;
  }
  progress(`installing ${tool} with apt-get (gitlab-ci-local needs it)…\n`);
  const install = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", tool], {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (install.status === 0 && onPath(tool)) return undefined;
  return `${tool} is missing and apt-get install ${tool} failed: ${install.stderr.trim().split("\n").at(-1) ?? ""}`;
}

function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}
