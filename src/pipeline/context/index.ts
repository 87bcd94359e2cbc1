export * from "./pipeline-context.ts";
export * from "./predefined-variables.ts";
export * from "./slugify.ts";
