/**
 * The three ways a command ends badly, and the exit code each means for scripts:
 *   UsageError  2  the command line is wrong (unknown option, missing argument, bad value)
 *   ApiError    1  the app answered with an error status (printed with the status and its message)
 *   Failed      1  the work did not succeed (a backfill failed, events could not be sent, a host is down)
 */
export class UsageError extends Error {
  readonly exitCode = 2;
}

export class Failed extends Error {
  readonly exitCode = 1;
}

export interface ApiErrorDetail {
  where?: string;
  problem?: string;
}

export class ApiError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The API's own message (`error` of its JSON body), or the start of a non-JSON body. */
    readonly apiMessage: string,
    readonly details: ApiErrorDetail[] = [],
  ) {
    super(
      `${method} ${path}: ${status} ${apiMessage}${details.length ? ` (${details.map((d) => [d.where, d.problem].filter(Boolean).join(': ')).join('; ')})` : ''}`,
    );
  }
}
