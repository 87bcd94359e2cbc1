import type { PipelineContext } from "./pipeline-context.ts";

export function predefinedPipelineVariables(ctx: PipelineContext): Array<[string, string]> {
  void ctx;
  throw new Error("not implemented");
}

export function predefinedJobVariables(
  job: { name: string; stage: string; id: number; nodeIndex?: number; nodeTotal?: number },
  ctx: PipelineContext,
): Array<[string, string]> {
  void job;
  void ctx;
  throw new Error("not implemented");
}
