import { UsageError } from "../../errors.ts";

/** A rule GitLab cannot evaluate (e.g. `compare_to` naming no commit): the pipeline fails. */
export class RuleEvaluationError extends UsageError {
  /** The rule's source position, as given in Rule.position. */
  readonly position: unknown;

  constructor(message: string, position: unknown) {
    super(message);
    this.position = position;
  }
}
