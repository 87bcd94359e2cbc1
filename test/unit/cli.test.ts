import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../src/cli/main.ts";

function captureStderr(): { text: () => string } {
  let text = "";
  vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text };
}

describe("pier command line", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("rejects an unknown command with one line and exit code 2", async () => {
    const stderr = captureStderr();
    expect(await main(["frobnicate"])).toBe(2);
    expect(stderr.text()).toBe("pier: unknown command 'frobnicate'\n");
  });

  it("rejects an unknown flag with one line and exit code 2", async () => {
    const stderr = captureStderr();
    expect(await main(["--no-such-flag"])).toBe(2);
    expect(stderr.text()).toBe("pier: unknown option '--no-such-flag'\n");
  });
});
