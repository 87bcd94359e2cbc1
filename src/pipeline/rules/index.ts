export * from "./rule.ts";
export * from "./only-except.ts";
export * from "./glob.ts";
export * from "./exists.ts";
export * from "./rule-error.ts";
