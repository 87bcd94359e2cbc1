import { describe, expect, it } from "vitest";
import { deadlineSignal } from "../../src/deadline-signal.ts";

describe("deadlineSignal", () => {
  it("aborts after the deadline even when only its timer holds it", async () => {
    const { signal } = deadlineSignal(new AbortController().signal, 30);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(signal.aborted).toBe(true);
    expect((signal.reason as Error).name).toBe("TimeoutError");
  });

  it("aborts with the parent's reason, and not at all once disposed", async () => {
    const parent = new AbortController();
    const first = deadlineSignal(parent.signal, 10_000);
    parent.abort("stop");
    expect(first.signal.reason).toBe("stop");

    const second = deadlineSignal(new AbortController().signal, 20);
    second.dispose();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(second.signal.aborted).toBe(false);
  });
});
