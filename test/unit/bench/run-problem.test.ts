import { describe, expect, it } from "vitest";
import type { BenchCommand, FinishedRun } from "../../../bench/lib/bench-case.ts";
import { runProblem } from "../../../bench/lib/measure.ts";

const command: BenchCommand = { argv: ["true"], cwd: "/" };

function finished(overrides: Partial<FinishedRun>): FinishedRun {
  return { exitCode: 0, signal: null, stdout: "", stderr: "", wallMs: 1, ...overrides };
}

describe("checking a measured run", () => {
  it("accepts the expected exit code", () => {
    expect(runProblem(command, finished({}))).toBeUndefined();
    expect(
      runProblem({ ...command, expectExitCode: 1 }, finished({ exitCode: 1 })),
    ).toBeUndefined();
  });

  it("rejects another exit code and quotes the end of stderr", () => {
    expect(runProblem(command, finished({ exitCode: 2, stderr: "a\nb\nboom\n" }))).toBe(
      "exited with 2, expected 0:\n    a\n    b\n    boom",
    );
  });

  it("rejects a run killed by a signal", () => {
    expect(runProblem(command, finished({ exitCode: null, signal: "SIGKILL" }))).toBe(
      "killed by SIGKILL",
    );
  });

  it("applies the command's own check to a run that exited well", () => {
    const checked: BenchCommand = {
      ...command,
      check: (run) => (run.stdout.includes("deploy") ? undefined : "no deploy job listed"),
    };
    expect(runProblem(checked, finished({ stdout: "build\ntest\n" }))).toBe("no deploy job listed");
    expect(runProblem(checked, finished({ stdout: "build\ndeploy\n" }))).toBeUndefined();
  });
});
