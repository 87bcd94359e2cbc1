import type { BenchCase } from "../lib/bench-case.ts";
import { nodeBaseline, pierVariant } from "./variants.ts";

export const startupCase: BenchCase = {
  name: "startup",
  description: "`pier --version` (module loading and CLI set-up only) against a bare `node -e 0`.",
  setup: ({ root, scratchDir }) =>
    Promise.resolve({
      variants: [
        pierVariant(root, "pier", ["--version"], scratchDir, (run) =>
          /^\d+\.\d+\.\d+/.test(run.stdout)
            ? undefined
            : `unexpected output ${JSON.stringify(run.stdout)}`,
        ),
        nodeBaseline(scratchDir),
      ],
      teardown: () => Promise.resolve(),
    }),
};
