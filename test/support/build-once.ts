import { buildIfStale } from "./pier-cli.ts";

/**
 * Vitest global setup of the integration project: builds dist/ once, before any test file
 * starts, so that files running in parallel never rebuild it under each other's pier processes.
 */
export default function setup(): void {
  buildIfStale();
}
