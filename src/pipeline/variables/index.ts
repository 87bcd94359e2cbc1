export * from "./expand.ts";
