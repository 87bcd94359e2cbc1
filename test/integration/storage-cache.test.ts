import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobCache } from "../../src/job/spec.ts";
import {
  cacheArchivePath,
  cacheDirFor,
  cacheKeyFromFiles,
  restoreCache,
  saveCache,
} from "../../src/storage/cache.ts";
import { git } from "../support/git.ts";

const cacheOf = (over: Partial<JobCache>): JobCache => ({
  key: "deps",
  untracked: false,
  policy: "pull-push",
  paths: ["vendor/"],
  when: "on_success",
  ...over,
});

describe("cache", () => {
  let root: string;
  let cacheDir: string;
  let project: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pier-cache-"));
    cacheDir = cacheDirFor(join(root, "state"), "group/project");
    project = join(root, "project");
    mkdirSync(join(project, "vendor", "lib"), { recursive: true });
    writeFileSync(join(project, "vendor", "lib", "a.js"), "a\n");
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("saves and restores by key, then falls back to fallback_keys, else misses", async () => {
    expect(
      await saveCache({ cacheDir, cache: cacheOf({}), projectDir: project, jobSucceeded: true }),
    ).toBe("saved");
    expect(existsSync(cacheArchivePath(cacheDir, "deps"))).toBe(true);

    const next = join(root, "next");
    const lines: string[] = [];
    expect(
      await restoreCache({
        cacheDir,
        cache: cacheOf({}),
        projectDir: next,
        log: (l) => lines.push(l),
      }),
    ).toBe("hit");
    expect(readFileSync(join(next, "vendor", "lib", "a.js"), "utf8")).toBe("a\n");
    expect(lines).toContain("Checking cache for deps...");

    const other = join(root, "other");
    expect(
      await restoreCache({
        cacheDir,
        cache: cacheOf({ key: "feature-x", fallback_keys: ["missing", "deps"] }),
        projectDir: other,
      }),
    ).toBe("fallback");
    expect(readFileSync(join(other, "vendor", "lib", "a.js"), "utf8")).toBe("a\n");

    const none = join(root, "none");
    expect(
      await restoreCache({
        cacheDir,
        cache: cacheOf({ key: "nothing", fallback_keys: ["missing"] }),
        projectDir: none,
      }),
    ).toBe("miss");
    expect(existsSync(none)).toBe(false);
  });

  it("honours policy and when", async () => {
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ policy: "pull" }),
        projectDir: project,
        jobSucceeded: true,
      }),
    ).toBe("skipped");
    expect(
      await saveCache({ cacheDir, cache: cacheOf({}), projectDir: project, jobSucceeded: false }),
    ).toBe("skipped");
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ when: "on_failure" }),
        projectDir: project,
        jobSucceeded: true,
      }),
    ).toBe("skipped");
    expect(existsSync(cacheArchivePath(cacheDir, "deps"))).toBe(false);
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ when: "on_failure" }),
        projectDir: project,
        jobSucceeded: false,
      }),
    ).toBe("saved");
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ when: "always", policy: "push" }),
        projectDir: project,
        jobSucceeded: false,
      }),
    ).toBe("saved");
    expect(
      await restoreCache({
        cacheDir,
        cache: cacheOf({ policy: "push" }),
        projectDir: join(root, "p"),
      }),
    ).toBe("skipped");
    expect(
      await restoreCache({
        cacheDir,
        cache: cacheOf({ policy: "pull" }),
        projectDir: join(root, "p"),
      }),
    ).toBe("hit");
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ paths: ["nothing-here"] }),
        projectDir: project,
        jobSucceeded: true,
      }),
    ).toBe("skipped");
  });

  it("caches untracked files", async () => {
    git(project, "init", "-q");
    writeFileSync(join(project, "tracked.txt"), "t\n");
    git(project, "add", "tracked.txt");
    git(project, "commit", "-q", "-m", "init");
    writeFileSync(join(project, "build.out"), "o\n");
    expect(
      await saveCache({
        cacheDir,
        cache: cacheOf({ paths: [], untracked: true }),
        projectDir: project,
        jobSucceeded: true,
      }),
    ).toBe("saved");
    const next = join(root, "next");
    await restoreCache({
      cacheDir,
      cache: cacheOf({ paths: [], untracked: true }),
      projectDir: next,
    });
    expect(readFileSync(join(next, "build.out"), "utf8")).toBe("o\n");
    expect(existsSync(join(next, "tracked.txt"))).toBe(false);
  });

  it("never lets a reader see a half-written archive while two processes save one key", async () => {
    const saver = join(root, "saver.mts");
    writeFileSync(
      saver,
      `import { saveCache } from ${JSON.stringify(resolve("src/storage/cache.ts"))};
const [cacheDir, projectDir] = process.argv.slice(2);
for (let i = 0; i < 6; i++) {
  await saveCache({ cacheDir, projectDir, jobSucceeded: true, cache: { key: "shared", untracked: false, policy: "push", paths: ["vendor/"], when: "on_success" } });
}
`,
    );
    // Two projects with different content of the same files: a mixed or partial restore shows.
    const sources = ["A", "B"].map((marker) => {
      const dir = join(root, `source-${marker}`);
      for (let f = 0; f < 20; f++) {
        mkdirSync(join(dir, "vendor"), { recursive: true });
        writeFileSync(join(dir, "vendor", `f${String(f)}.bin`), Buffer.alloc(200_000, marker));
      }
      return dir;
    });
    const children = sources.map(
      (dir) =>
        new Promise<number | null>((done) => {
          spawn(process.execPath, ["--import", "tsx", saver, cacheDir, dir], {
            stdio: "inherit",
          }).on("exit", done);
        }),
    );
    let running = true;
    const finished = Promise.all(children).then((codes) => {
      running = false;
      return codes;
    });

    let restores = 0;
    const seen = new Set<string>();
    while (running) {
      const target = join(root, `restore-${String(restores)}`);
      const outcome = await restoreCache({
        cacheDir,
        cache: cacheOf({ key: "shared" }),
        projectDir: target,
      });
      if (outcome === "hit") {
        const files = readdirSync(join(target, "vendor"));
        expect(files).toHaveLength(20);
        const markers = new Set(
          files
            .map((f) => readFileSync(join(target, "vendor", f)).toString("latin1"))
            .map((c) => c[0]),
        );
        expect(markers.size).toBe(1);
        seen.add([...markers][0] ?? "");
        restores++;
      }
      rmSync(target, { recursive: true, force: true });
    }
    expect(await finished).toEqual([0, 0]);
    expect(restores).toBeGreaterThan(0);
    const tempLeft = readdirSync(join(cacheArchivePath(cacheDir, "shared"), "..")).filter(
      (f) => f !== "cache.zip",
    );
    expect(tempLeft).toEqual([]);
    console.log(
      `cache atomicity: ${String(restores)} consistent restores during concurrent saves (saw ${[...seen].join(",")})`,
    );
  });

  it("computes cache:key:files like GitLab: SHA-1 of the sorted blob ids, with a prefix", async () => {
    git(project, "init", "-q");
    writeFileSync(join(project, "package-lock.json"), "{}\n");
    mkdirSync(join(project, "sub"));
    writeFileSync(join(project, "sub", "Gemfile.lock"), "gems\n");
    git(project, "add", "-A");
    git(project, "commit", "-q", "-m", "init");
    const blobs = [
      git(project, "rev-parse", "HEAD:package-lock.json"),
      git(project, "rev-parse", "HEAD:sub/Gemfile.lock"),
    ].sort();
    const expected = createHash("sha1").update(blobs.join("-")).digest("hex");

    expect(await cacheKeyFromFiles(project, ["package-lock.json", "**/Gemfile.lock"])).toBe(
      expected,
    );
    expect(
      await cacheKeyFromFiles(project, ["package-lock.json", "sub/Gemfile.lock"], "rspec"),
    ).toBe(`rspec-${expected}`);
    expect(await cacheKeyFromFiles(project, ["no-such-file"])).toBe("default");
    expect(await cacheKeyFromFiles(project, ["no-such-file"], "test")).toBe("test-default");
  });
});
