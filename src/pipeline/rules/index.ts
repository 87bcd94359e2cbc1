export * from "./rule.ts";
export * from "./only-except.ts";
