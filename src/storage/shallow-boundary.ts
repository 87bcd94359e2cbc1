import { runGit } from "./run-git.ts";

/**
 * The commits a `git fetch --depth N` of `sha` would record in .git/shallow: those at
 * distance N-1 from `sha` (shortest path, all parents followed) that have parents. Reads
 * `rev-list --parents` in growing windows so a linear history costs one git call.
 */
export function shallowBoundary(repoDir: string, sha: string, depth: number): Promise<string[]> {
  // Commits never change: every job of a pipeline asks the same, and a git process per job
  // would cost more than the rest of its checkout.
  const key = `${repoDir}\0${sha}\0${String(depth)}`;
  let boundary = boundaries.get(key);
  if (boundary === undefined) {
    boundary = readBoundary(repoDir, sha, depth);
    boundaries.set(key, boundary);
    boundary.catch(() => boundaries.delete(key));
  }
  return boundary;
}

const boundaries = new Map<string, Promise<string[]>>();

async function readBoundary(repoDir: string, sha: string, depth: number): Promise<string[]> {
  for (let window = Math.max(depth * 2, 16); ; window *= 4) {
    const { stdout } = await runGit(
      ["rev-list", "--parents", `--max-count=${String(window)}`, sha],
      {
        cwd: repoDir,
      },
    );
    const lines = stdout
      .toString("utf8")
      .trim()
      .split("\n")
      .filter((l) => l !== "");
    const parents = new Map<string, string[]>();
    for (const line of lines) {
      const [commit = "", ...rest] = line.split(" ");
      parents.set(commit, rest);
    }
    const complete = lines.length < window;
    const boundary = boundaryWithin(parents, lines[0]?.split(" ")[0] ?? sha, depth);
    if (boundary !== undefined) return boundary;
    if (complete) return [];
  }
}

/** undefined when the window did not hold every commit the walk needs. */
function boundaryWithin(
  parents: Map<string, string[]>,
  tip: string,
  depth: number,
): string[] | undefined {
  const distance = new Map<string, number>([[tip, 0]]);
  const queue = [tip];
  const boundary: string[] = [];
  for (let head = 0; head < queue.length; head++) {
    const commit = queue[head] ?? "";
    const own = parents.get(commit);
    if (own === undefined) return undefined;
    const d = distance.get(commit) ?? 0;
    if (d === depth - 1) {
      if (own.length > 0) boundary.push(commit);
      continue;
    }
    for (const parent of own) {
      if (!distance.has(parent)) {
        distance.set(parent, d + 1);
        queue.push(parent);
      }
    }
  }
  return boundary.sort();
}
