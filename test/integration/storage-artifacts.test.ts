import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import yauzl from "yauzl";
import yazl from "yazl";
import type { JobArtifact } from "../../src/job/spec.ts";
import { copyArtifactsOut, localArtifactTransport } from "../../src/storage/artifacts.ts";
import { extractZip } from "../../src/storage/zip-archive.ts";
import { git } from "../support/git.ts";

async function zipEntries(path: string): Promise<Map<string, number>> {
  const zip = await yauzl.openPromise(path);
  const entries = new Map<string, number>();
  for await (const entry of zip.eachEntry())
    entries.set(entry.fileName, entry.externalFileAttributes >>> 16);
  zip.close();
  return entries;
}

async function zipFrom(
  entries: { name: string; content?: string; mode?: number }[],
  path: string,
): Promise<void> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    zip.addBuffer(
      Buffer.from(e.content ?? ""),
      e.name,
      e.mode === undefined ? {} : { mode: e.mode },
    );
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  writeFileSync(path, Buffer.concat(chunks));
}

const archive = (over: Partial<JobArtifact>): JobArtifact => ({
  untracked: false,
  paths: [],
  when: "on_success",
  artifact_type: "archive",
  artifact_format: "zip",
  ...over,
});

describe("artifacts (local transport)", () => {
  let root: string;
  let project: string;
  let runDir: string;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pier-artifacts-"));
    project = join(root, "project");
    runDir = join(root, "state", "runs", "7");
    mkdirSync(join(project, "dist", "maps"), { recursive: true });
    mkdirSync(join(project, "src"));
    writeFileSync(join(project, "src", "main.c"), "int main;\n");
    writeFileSync(join(project, ".gitignore"), "*.log\n");
    git(project, "init", "-q");
    git(project, "add", "-A");
    git(project, "commit", "-q", "-m", "init");
    writeFileSync(join(project, "dist", "app"), "#!/bin/sh\n");
    chmodSync(join(project, "dist", "app"), 0o755);
    writeFileSync(join(project, "dist", "maps", "app.map"), "map\n");
    writeFileSync(join(project, "dist", ".hidden"), "dot\n");
    symlinkSync("app", join(project, "dist", "current"));
    writeFileSync(join(project, "report.txt"), "r\n");
    writeFileSync(join(project, "build.log"), "ignored by git\n");
  });

  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("archives globs in GitLab's zip shape and restores them in a later job", async () => {
    const transport = localArtifactTransport({ runDir });
    const result = await transport.upload(
      { id: 11, name: "build" },
      archive({
        paths: ["dist/", "*.txt"],
        exclude: ["dist/**/*.map"],
        name: "bin",
        expire_in: "1 week",
      }),
      project,
    );
    expect(result.skipped).toBe(false);
    expect(result.warnings).toEqual([]);
    expect(result.infos).toContain("dist/**/*.map: excluded 1 files");

    const zip = join(runDir, "artifacts", "11", "archive.zip");
    const entries = await zipEntries(zip);
    expect([...entries.keys()].sort()).toEqual([
      "dist/",
      "dist/.hidden",
      "dist/app",
      "dist/current",
      "dist/maps/",
      "report.txt",
    ]);
    expect((entries.get("dist/app") ?? 0) & 0o777).toBe(0o755);
    expect((entries.get("dist/current") ?? 0) & 0o170000).toBe(0o120000);
    expect((entries.get("dist/") ?? 0) & 0o170000).toBe(0o040000);
    const metadata = JSON.parse(
      readFileSync(join(runDir, "artifacts", "11", "archive.json"), "utf8"),
    ) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      job_id: 11,
      job_name: "build",
      name: "bin",
      expire_in: "1 week",
      files: 6,
    });
    expect(typeof metadata["expire_at"]).toBe("string");

    const later = join(root, "later");
    await transport.download({ id: 11, name: "build", token: "" }, later);
    expect(readFileSync(join(later, "dist", "app"), "utf8")).toBe("#!/bin/sh\n");
    expect(lstatSync(join(later, "dist", "app")).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(later, "dist", "current"))).toBe("app");
    expect(existsSync(join(later, "dist", "maps", "app.map"))).toBe(false);
    expect(readFileSync(join(later, "report.txt"), "utf8")).toBe("r\n");
  });

  it("adds untracked files (ignored ones too, as gitlab-runner does) and never tracked ones", async () => {
    const result = await localArtifactTransport({ runDir }).upload(
      { id: 12, name: "u" },
      archive({ untracked: true }),
      project,
    );
    const names = [...(await zipEntries(join(runDir, "artifacts", "12", "archive.zip"))).keys()];
    expect(names).toContain("build.log");
    expect(names).toContain("dist/maps/app.map");
    expect(names).not.toContain("src/main.c");
    expect(names).not.toContain(".gitignore");
    expect(result.infos.some((l) => l.startsWith("untracked: found"))).toBe(true);
  });

  it("warns about paths that match nothing, and about paths outside the project, without failing", async () => {
    const result = await localArtifactTransport({ runDir }).upload(
      { id: 13, name: "w" },
      archive({ paths: ["missing/", "../outside", "report.txt"] }),
      project,
    );
    expect(result.files).toBe(1);
    expect(result.warnings).toEqual([
      `missing: no matching files. Ensure that the artifact path is relative to the working directory (${project})`,
      "processPath: artifact path is not a subpath of project directory: ../outside",
    ]);

    const nothing = await localArtifactTransport({ runDir }).upload(
      { id: 14, name: "n" },
      archive({ paths: ["nope"] }),
      project,
    );
    expect(nothing.files).toBe(0);
    expect(nothing.errors).toEqual(["No files to upload"]);
    expect(existsSync(join(runDir, "artifacts", "14", "archive.zip"))).toBe(false);
  });

  it("does not follow symlinks out of the project dir", async () => {
    const outside = join(root, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "secret"), "s\n");
    symlinkSync(outside, join(project, "link"));
    const result = await localArtifactTransport({ runDir }).upload(
      { id: 15, name: "s" },
      archive({ paths: ["link/secret", "link/**", "link"] }),
      project,
    );
    const names = [...(await zipEntries(join(runDir, "artifacts", "15", "archive.zip"))).keys()];
    expect(names).toEqual(["link"]);
    expect(result.files).toBe(1);
  });

  it("honours artifacts:when against the job's outcome", async () => {
    const transport = localArtifactTransport({ runDir });
    expect(
      (
        await transport.upload(
          { id: 16, name: "a", outcome: "failed" },
          archive({ paths: ["report.txt"] }),
          project,
        )
      ).skipped,
    ).toBe(true);
    expect(
      (
        await transport.upload(
          { id: 16, name: "a", outcome: "success" },
          archive({ paths: ["report.txt"], when: "on_failure" }),
          project,
        )
      ).skipped,
    ).toBe(true);
    const always = await transport.upload(
      { id: 16, name: "a", outcome: "failed" },
      archive({ paths: ["report.txt"], when: "always" }),
      project,
    );
    expect(always.skipped).toBe(false);
    expect(always.files).toBe(1);
  });

  it("returns dotenv variables and junit report paths", async () => {
    writeFileSync(join(project, "build.env"), "VERSION=1.2.3\nIMAGE = registry/app:ci\n");
    writeFileSync(join(project, "junit.xml"), "<testsuites/>\n");
    const transport = localArtifactTransport({ runDir });
    const dotenv = await transport.upload(
      { id: 17, name: "r" },
      archive({
        paths: ["build.env"],
        artifact_type: "dotenv",
        artifact_format: "gzip",
        when: "always",
      }),
      project,
    );
    expect(dotenv.dotenv).toEqual({ VERSION: "1.2.3", IMAGE: "registry/app:ci" });
    const junit = await transport.upload(
      { id: 17, name: "r" },
      archive({
        paths: ["junit.xml"],
        artifact_type: "junit",
        artifact_format: "gzip",
        when: "always",
      }),
      project,
    );
    expect(junit.junit).toEqual(["junit.xml"]);
    expect(readdirSync(join(runDir, "artifacts", "17")).sort()).toEqual([
      "dotenv.json",
      "dotenv.variables.json",
      "dotenv.zip",
      "junit.json",
      "junit.zip",
    ]);

    writeFileSync(join(project, "bad.env"), "# comment\nA=1\n");
    await expect(
      transport.upload(
        { id: 18, name: "bad" },
        archive({ paths: ["bad.env"], artifact_type: "dotenv" }),
        project,
      ),
    ).rejects.toThrow(/Invalid Format/);
  });

  it("refuses archive entries that escape the target directory", async () => {
    const target = join(root, "target");
    const escaped = join(root, "escaped");
    mkdirSync(escaped);

    // yazl refuses to write "../" names, so the name is patched in the bytes (same length).
    const traversal = join(root, "traversal.zip");
    await zipFrom([{ name: "xx/escaped/evil", content: "evil" }], traversal);
    const bytes = readFileSync(traversal);
    writeFileSync(
      traversal,
      Buffer.from(
        bytes.toString("latin1").replaceAll("xx/escaped/evil", "../escaped/evil"),
        "latin1",
      ),
    );
    await expect(extractZip(traversal, target)).rejects.toThrow();
    expect(readdirSync(escaped)).toEqual([]);

    const throughLink = join(root, "link.zip");
    await zipFrom(
      [
        { name: "link", content: escaped, mode: 0o120777 },
        { name: "link/evil", content: "evil" },
      ],
      throughLink,
    );
    await expect(extractZip(throughLink, target)).rejects.toThrow(/through a symlink/);
    expect(readdirSync(escaped)).toEqual([]);
  });

  it("copies a run's artifacts out, one folder per job", async () => {
    const transport = localArtifactTransport({ runDir });
    // "build" ran twice (a retry): only the last attempt's files are copied out.
    await transport.upload({ id: 20, name: "build" }, archive({ paths: ["src/main.c"] }), project);
    await transport.upload({ id: 21, name: "build" }, archive({ paths: ["dist/app"] }), project);
    await transport.upload(
      { id: 22, name: "test: [a, b]" },
      archive({ paths: ["report.txt"] }),
      project,
    );
    const out = join(root, "out");
    await copyArtifactsOut({ runDir, to: out });
    expect(readdirSync(out).sort()).toEqual(["build", "test: [a, b]"]);
    expect(readFileSync(join(out, "build", "dist", "app"), "utf8")).toBe("#!/bin/sh\n");
    expect(existsSync(join(out, "build", "src"))).toBe(false);
    expect(readFileSync(join(out, "test: [a, b]", "report.txt"), "utf8")).toBe("r\n");
  });
});
