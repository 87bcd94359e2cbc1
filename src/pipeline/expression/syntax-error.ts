/** A malformed expression: what GitLab reports as an invalid `if` expression syntax. */
export class ExpressionSyntaxError extends Error {
  /** 1-based column within the expression. */
  readonly column: number;

  constructor(message: string, column: number) {
    super(message);
    this.name = "ExpressionSyntaxError";
    this.column = column;
  }
}
