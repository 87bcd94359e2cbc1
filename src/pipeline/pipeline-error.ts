import { PierError, UsageError } from "../errors.ts";
import type { Diagnostic } from "./plan.ts";

export function formatDiagnostic(diagnostic: Diagnostic): string {
  const where =
    diagnostic.line > 0
      ? `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}: `
      : diagnostic.file
        ? `${diagnostic.file}: `
        : "";
  return `${where}${diagnostic.severity === "warning" ? "warning: " : ""}${diagnostic.message}`;
}

/** A pipeline file that GitLab would reject. Carries every error found, not just the first. */
export class PipelineError extends UsageError {
  readonly diagnostics: Diagnostic[];

  constructor(diagnostics: Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === "error");
    super(
      errors.length === 1
        ? formatDiagnostic(errors[0] as Diagnostic)
        : `${errors.length} errors in the pipeline configuration:\n${errors.map((e) => `  ${formatDiagnostic(e)}`).join("\n")}`,
    );
    this.diagnostics = diagnostics;
  }
}

/**
 * workflow:rules filtered the pipeline out, or no job is left: GitLab creates no pipeline.
 * Not a failure: exit code 0 unless a command decides otherwise.
 */
export class NoPipelineError extends PierError {
  constructor(message: string) {
    super(message, { exitCode: 0 });
  }
}
