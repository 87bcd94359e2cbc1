import { UsageError } from "../errors.ts";
import type { Diagnostic } from "./plan.ts";

export function formatDiagnostic(diagnostic: Diagnostic): string {
  const where =
    diagnostic.line > 0
      ? `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}`
      : diagnostic.file;
  return `${where}: ${diagnostic.severity === "warning" ? "warning: " : ""}${diagnostic.message}`;
}

/** A pipeline file that GitLab would reject. Carries every error found, not just the first. */
export class PipelineError extends UsageError {
  readonly diagnostics: Diagnostic[];

  constructor(diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(errors.map(formatDiagnostic).join("\n"));
    this.diagnostics = diagnostics;
  }
}

/** workflow:rules filtered the pipeline out, or no job is left: not a crash, no pipeline. */
export class NoPipelineError extends UsageError {}
