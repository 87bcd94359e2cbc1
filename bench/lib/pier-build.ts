import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * Builds pier (npm run build) when dist/ is missing or older than a source file, so the
 * benchmarks never time stale code. Returns notes for the report (e.g. a build with errors).
 */
export function ensurePierBuilt(root: string, progress: (text: string) => void): string[] {
  const entry = join(root, "dist", "cli", "main.js");
  const built = modifiedAt(entry);
  const inputs = [
    ...listFiles(join(root, "src")),
    join(root, "package.json"),
    join(root, "tsconfig.json"),
    join(root, "tsconfig.build.json"),
  ];
  const newestInput = Math.max(...inputs.map(modifiedAt));
  if (built !== 0 && built >= newestInput) return [];
  progress(
    built === 0 ? "building pier (dist/ is missing)…\n" : "building pier (dist/ is stale)…\n",
  );
  const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: root, encoding: "utf8" });
  if (build.status === 0) return [];
  const output = `${build.stdout}${build.stderr}`.trim().split("\n").slice(0, 5).join("\n    ");
  if (modifiedAt(entry) === 0) throw new Error(`npm run build failed:\n    ${output}`);
  return [`npm run build reported errors; measured the dist/ it emitted anyway: ${output}`];
}

function modifiedAt(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function listFiles(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}
