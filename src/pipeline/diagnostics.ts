import type { Diagnostic, SourcePosition } from "./plan.ts";
import { PipelineError } from "./pipeline-error.ts";

const nowhere: SourcePosition = { file: "", line: 0, column: 0 };

/** Collects every problem found so they can be reported at once. */
export class Diagnostics {
  readonly items: Diagnostic[] = [];

  error(position: SourcePosition | undefined, message: string): void {
    this.items.push({ ...(position ?? nowhere), message, severity: "error" });
  }

  warning(position: SourcePosition | undefined, message: string): void {
    this.items.push({ ...(position ?? nowhere), message, severity: "warning" });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  get warnings(): Diagnostic[] {
    return this.items.filter((d) => d.severity === "warning");
  }

  /** Throws a PipelineError carrying everything collected when there is any error. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new PipelineError(sortByPosition(this.items));
  }
}

function sortByPosition(items: Diagnostic[]): Diagnostic[] {
  return [...items].sort(
    (a, b) =>
      (a.severity === b.severity ? 0 : a.severity === "error" ? -1 : 1) ||
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column,
  );
}
