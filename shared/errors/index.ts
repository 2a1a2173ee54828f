/**
 * One error hierarchy for the whole core. Each error knows its HTTP status so the
 * functions layer maps errors to responses in exactly one place (functions/http.ts).
 */
export interface ErrorDetail {
  /** Where the problem is: a field path, a line, a setting name. */
  where: string;
  /** What is wrong, phrased so the user knows what to fix. */
  problem: string;
}

export class StrataError extends Error {
  readonly status: number;
  readonly details: ErrorDetail[];
  constructor(message: string, status = 500, details: ErrorDetail[] = []) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.details = details;
  }
}

/** Input that breaks a rule: HTTP 400. */
export class ValidationError extends StrataError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super(message, 400, details);
  }
}

export class NotFoundError extends StrataError {
  constructor(message: string) {
    super(message, 404);
  }
}

/** A change that conflicts with what is stored (incompatible definition, running job): HTTP 409. */
export class ConflictError extends StrataError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super(message, 409, details);
  }
}

export class PayloadTooLargeError extends StrataError {
  constructor(message: string) {
    super(message, 413);
  }
}

/** Well-formed input that cannot be served (e.g. missing features under a strict policy): HTTP 422. */
export class UnprocessableError extends StrataError {
  constructor(message: string, details: ErrorDetail[] = []) {
    super(message, 422, details);
  }
}

/** A dependency (Blob, Table, Redis) is down: HTTP 503. */
export class DependencyError extends StrataError {
  constructor(message: string) {
    super(message, 503);
  }
}

/**
 * Text for a response body: what the client can act on, without the internals a message may
 * carry from a library (temp file paths, SQL text, service addresses). The full text goes to
 * the log; the same scrubbing serves every error mapping (functions/http.ts, the local host).
 */
export function publicText(text: string): string {
  return (
    text
      // DuckDB appends the statement after a blank line: "LINE 1: SELECT ... ^"
      .replace(/\n+LINE \d+:[\s\S]*$/, '')
      .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`]*[^\s'"`:,.;)]/gi, '<address>')
      .replace(/\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\]):\d{1,5}\b/gi, '<address>')
      .replace(/(?:[A-Za-z]:\\|\/)(?:tmp|var|home|usr|opt|root|private|work|srv|mnt|Users)[\\/][^\s'"`]*/g, '<file>')
      .replace(/\b(?:SELECT|COPY|CREATE|INSERT)\b[^\n]*\b(?:FROM|TO|AS|INTO)\b[^\n]*/g, '<query>')
  );
}

/** A bad setting found at start-up. Names every bad setting at once. */
export class ConfigError extends StrataError {
  constructor(details: ErrorDetail[]) {
    super(`Invalid configuration:\n${details.map((d) => `  - ${d.where}: ${d.problem}`).join('\n')}`, 500, details);
  }
}

/** Turn zod issues into ErrorDetails with dotted paths ("rows[3].ts"). */
export function detailsFromZod(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  prefix = '',
): ErrorDetail[] {
  return issues.map((i) => ({ where: formatPath(prefix, i.path) || '(root)', problem: i.message }));
}

function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}
