import { UsageError } from "../errors.ts";
import type { Diagnostic, PlanOptions } from "../pipeline/plan.ts";
import { formatDiagnostic } from "../pipeline/pipeline-error.ts";

/** The flags every pipeline-reading command shares (see withPipelineOptions in main.ts). */
export interface PipelineFlags {
  file: string;
  directory: string;
  variable: string[];
  ref?: string | undefined;
  branch?: string | undefined;
  tag?: string | undefined;
  source?: string | undefined;
}

/** Command-line flags as the compiler's options; `--variable` must be KEY=VALUE. */
export function planOptionsFrom(flags: PipelineFlags): PlanOptions {
  const variables: Record<string, string> = {};
  for (const item of flags.variable) {
    const equals = item.indexOf("=");
    const key = equals < 0 ? "" : item.slice(0, equals);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`--variable expects KEY=VALUE, got '${item}'`);
    }
    variables[key] = item.slice(equals + 1);
  }
  if ([flags.ref, flags.branch, flags.tag].filter((value) => value !== undefined).length > 1) {
    throw new UsageError("use only one of --ref, --branch and --tag");
  }
  const options: PlanOptions = { repoDir: flags.directory, file: flags.file, variables };
  if (flags.ref !== undefined) options.ref = flags.ref;
  if (flags.branch !== undefined) options.branch = flags.branch;
  if (flags.tag !== undefined) options.tag = flags.tag;
  if (flags.source !== undefined) options.source = flags.source;
  return options;
}

export function printWarnings(warnings: Diagnostic[]): void {
  for (const warning of warnings) process.stderr.write(`pier: ${formatDiagnostic(warning)}\n`);
}
