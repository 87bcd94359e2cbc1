import type { SourcePosition } from "../plan.ts";

/** A `!reference [job, key, …]` tag, resolved after `extends` on the merged configuration. */
export class ReferenceTag {
  readonly path: unknown[];
  readonly position: SourcePosition | undefined;

  constructor(path: unknown[], position: SourcePosition | undefined) {
    this.path = path;
    this.position = position;
  }

  /** GitLab's rendering, used in messages: `!reference ["job", "script"]`. */
  toString(): string {
    return `!reference [${this.path.map((p) => JSON.stringify(p)).join(", ")}]`;
  }
}
