import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readRunnerConfig } from "../../src/runner/config-toml.ts";
import { FakeGitLab } from "../support/fake-gitlab/fake-gitlab.ts";
import { ensureBuilt, repoRoot } from "../support/pier-cli.ts";

let fake: FakeGitLab;
let home: string;

beforeAll(() => ensureBuilt());

beforeEach(async () => {
  fake = await FakeGitLab.start();
  home = mkdtempSync(join(tmpdir(), "pier-register-tty-"));
});

afterEach(async () => {
  await fake.close();
  rmSync(home, { recursive: true, force: true });
});

describe("pier runner register on a terminal", () => {
  it("asks for the URL, the token and the executor, as gitlab-runner does", async () => {
    const token = fake.createRunner();
    const configFile = join(home, "config.toml");
    const pier = `${process.execPath} ${join(repoRoot, "bin", "pier.js")} runner register -c ${configFile} --name tty`;
    // script(1) gives pier a pseudo-terminal: stdin is a TTY, so it prompts.
    const child = spawn("script", ["-qec", pier, "/dev/null"], {
      env: { ...process.env, HOME: home, NO_COLOR: "1", TERM: "dumb" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let seen = "";
    const answers: [RegExp, string][] = [
      [/GitLab instance URL/, fake.url],
      [/registration token/, token],
      [/executor/, "shell"],
    ];
    child.stdout.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      const next = answers[0];
      // One answer per prompt: a new prompt must be on screen before its answer is typed.
      if (next !== undefined && next[0].test(seen)) {
        answers.shift();
        seen = "";
        child.stdin.write(`${next[1]}\r`);
      }
    });
    // A prompt that never comes must not leave pier waiting for input after the test.
    const stuck = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    clearTimeout(stuck);
    expect(answers).toEqual([]);
    expect(code).toBe(0);
    expect(readRunnerConfig(configFile).config.runners).toMatchObject([
      { name: "tty", url: fake.url, token, executor: "shell" },
    ]);
    expect(fake.requests.map((r) => r.path)).toEqual(["/api/v4/runners/verify"]);
  }, 60_000);
});
