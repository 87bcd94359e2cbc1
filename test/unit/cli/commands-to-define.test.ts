import { afterEach, describe, expect, it, vi } from "vitest";
import { commandsToDefine, main } from "../../../src/cli/main.ts";
import { pierVersion } from "../../../src/cli/version.ts";

const all = ["run", "list", "lint", "config", "plan", "gc", "runner"];

function captureStdout(): { text: () => string } {
  let text = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text };
}

describe("commandsToDefine", () => {
  it("is the command argv runs when no help flag comes before it", () => {
    expect(commandsToDefine(["run", "--executor", "docker", "build"])).toEqual(["run"]);
    expect(commandsToDefine(["--debug", "runner", "run", "-c", "c.toml"])).toEqual(["runner"]);
    expect(commandsToDefine(["run", "--help"])).toEqual(["run"]);
    expect(commandsToDefine(["-V", "list"])).toEqual(["list"]);
  });

  it("is none for --version alone", () => {
    expect(commandsToDefine(["--version"])).toEqual([]);
    expect(commandsToDefine(["--debug", "-V"])).toEqual([]);
  });

  it("is every command when the program's help or an unknown command may be printed", () => {
    const argvs = [[], ["--debug"], ["--help"], ["-h", "run"], ["-Vh", "run"], ["help"], ["frob"]];
    for (const argv of argvs) {
      expect(commandsToDefine(argv)).toEqual(all);
    }
    expect(commandsToDefine(["--version", "--bogus"])).toEqual(all);
    expect(commandsToDefine(["--bogus", "run"])).toEqual(all);
  });
});

describe("pier with only the commands it needs", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("prints its version", async () => {
    const stdout = captureStdout();
    expect(await main(["--version"])).toBe(0);
    expect(stdout.text()).toBe(`${pierVersion()}\n`);
  });

  it("prints a command's help, and the program's help with every command", async () => {
    const runHelp = captureStdout();
    expect(await main(["run", "--help"])).toBe(0);
    expect(runHelp.text()).toMatch(/^Usage: pier run \[options\] \[jobs\.\.\.\]/);
    expect(runHelp.text()).toContain("--executor <name>");
    vi.restoreAllMocks();

    const programHelp = captureStdout();
    expect(await main(["--help", "run"])).toBe(0);
    for (const name of all) expect(programHelp.text()).toMatch(new RegExp(`\\n  ${name} `));
  });
});
