/**
 * One name rule per kind of name a client can send: allowed characters and length, checked at
 * the edge (HTTP functions, the local host's routes) before any storage call, so a name never
 * reaches a Table key, a blob path or a Redis key it could break or escape (`..%2F`, `%00`,
 * `/` in a partition key). The same rule serves definitions (repo.ts), the stores and the README.
 *
 *   checkName('model', req.params.model, 'model')   -> the name, or ValidationError naming the field
 *   nameSchema('alias')                              -> zod schema with the same rule and message
 *   checkBlobPath(path, ['spines', ...], where)      -> { container, name } inside an allowed container
 *
 * Prototype names (`constructor`, `__proto__`) are valid names where the rule allows them; code
 * that looks a client-given name up in a plain object uses `own()` (shared/own.ts) or a Map.
 */
import { z } from 'zod';
import { ValidationError } from './errors';

interface NameRule {
  /** What the name is, in the words of an error message ("model name"). */
  label: string;
  test(value: string): boolean;
  /** The rule, phrased as what to do ("use 1-100 letters, digits, _ . - starting with a letter or digit"). */
  rule: string;
}

const pattern = (re: RegExp) => (v: string) => re.test(v);
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export const NAME_RULES = {
  /** Entities, sources, views, services and features as defined in the repo: Redis keys, Table keys, blob paths. */
  definition: {
    label: 'definition name',
    test: pattern(/^[a-z][a-z0-9_]{0,127}$/),
    rule: 'use 1-128 lower-case letters, digits and _, starting with a letter (e.g. "user_clicks")',
  },
  /** A view as the offline store keeps it: a definition name, or `src.<source>` for a source's own records. */
  storedView: {
    label: 'view name',
    test: pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
    rule: 'use 1-128 characters from A-Z a-z 0-9 _ . - (not starting with . or -)',
  },
  /** A definition version (a hash, or a name a user gave). */
  version: {
    label: 'definition version',
    test: pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
    rule: 'use 1-128 characters from A-Z a-z 0-9 _ . - (not starting with . or -)',
  },
  model: {
    label: 'model name',
    test: pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/),
    rule: 'use 1-100 letters, digits, _ . - starting with a letter or digit',
  },
  alias: {
    label: 'alias',
    test: pattern(/^[a-z][a-z0-9_-]{0,39}$/),
    rule: 'use 1-40 characters a-z 0-9 _ - starting with a lower-case letter (e.g. production, canary, shadow, shadow-xgb)',
  },
  trainingSet: {
    label: 'training set id',
    test: pattern(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/),
    rule: 'use 1-128 characters from A-Z a-z 0-9 _ . - starting with a letter or digit',
  },
  /** Event Hubs' own rule for hub names. */
  hub: {
    label: 'event hub name',
    test: pattern(/^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,254}[A-Za-z0-9])?$/),
    rule: 'use 1-256 letters, digits, . _ - starting and ending with a letter or digit',
  },
  /** Durable instance ids are Table partition keys: Azure Storage forbids / \ # ? and control characters there. */
  instanceId: {
    label: 'instance id',
    test: (v: string) => v.length >= 1 && v.length <= 256 && !/[/\\#?]/.test(v) && !CONTROL.test(v),
    rule: 'use 1-256 characters without / \\ # ? or control characters',
  },
  /** Names of orchestrator functions and raised events in the Durable API. */
  durableName: {
    label: 'name',
    test: pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
    rule: 'use 1-128 characters from A-Z a-z 0-9 _ . - (not starting with . or -)',
  },
  segmentId: {
    label: 'segment id',
    test: pattern(/^[0-9a-f]{32}$/),
    rule: 'give the 32 hex characters of a segment id',
  },
  /** An entity's key value (user id, ...): any text a join key holds, within Redis key and URL limits. */
  entityId: {
    label: 'entity id',
    test: (v: string) => v.length >= 1 && v.length <= 512 && !CONTROL.test(v),
    rule: 'use 1-512 characters without control characters',
  },
} satisfies Record<string, NameRule>;

export type NameKind = keyof typeof NAME_RULES;

/** A value as an error message shows it: quoted, control characters escaped, long ones cut. */
export function shown(value: unknown): string {
  if (typeof value !== 'string') return value === undefined ? 'nothing' : typeof value;
  const s = JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  return s;
}

/** What is wrong with `value` as a name of `kind`, or undefined when it is fine. */
export function nameProblem(kind: NameKind, value: unknown): string | undefined {
  const r: NameRule = NAME_RULES[kind];
  if (typeof value !== 'string') return `must be a ${r.label} (text): ${r.rule}`;
  return r.test(value) ? undefined : `${shown(value)} is not a valid ${r.label}: ${r.rule}`;
}

export function isName(kind: NameKind, value: unknown): value is string {
  return nameProblem(kind, value) === undefined;
}

/** The name, or a ValidationError (400) naming the field `where` and the rule. */
export function checkName(kind: NameKind, value: unknown, where: string = kind): string {
  const problem = nameProblem(kind, value);
  if (problem !== undefined) throw new ValidationError(`${where}: ${problem}`, [{ where, problem }]);
  return value as string;
}

/** The same rule as a zod schema (for request bodies and query strings). */
export function nameSchema(kind: NameKind): z.ZodType<string, string> {
  const r: NameRule = NAME_RULES[kind];
  return z.string({ message: `must be a ${r.label} (text)` }).refine((v) => r.test(v), { message: r.rule });
}

// ---------------------------------------------------------------------------------------------
// Blob paths a client names (training-set spines)

/** Azure's container rule: 3-63 characters, lower-case letters, digits and single hyphens. */
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;
/** Blob names: at most 1024 characters; here also no empty, `.` or `..` segments, no backslash or control characters. */
const MAX_BLOB_PATH = 1024;

export interface BlobLocation {
  container: string;
  name: string;
}

/** What is wrong with `<container>/<name>` as a path inside one of `containers`, or undefined. */
export function blobPathProblem(path: unknown, containers: readonly string[]): string | undefined {
  const where = `<container>/<path> in one of the containers ${containers.join(', ')}`;
  if (typeof path !== 'string') return `must be ${where}`;
  if (path.length > MAX_BLOB_PATH) return `is ${path.length} characters long; the limit is ${MAX_BLOB_PATH}`;
  if (CONTROL.test(path) || path.includes('\\'))
    return `${shown(path)} holds a backslash or control character; give ${where}`;
  const [container, ...rest] = path.split('/');
  if (!container || !CONTAINER.test(container) || !containers.includes(container)) {
    return `${shown(path)} is not in an allowed container: give ${where}`;
  }
  if (!rest.length || rest.some((s) => s === '' || s === '.' || s === '..')) {
    return `${shown(path)} has an empty, "." or ".." path segment; give ${where}`;
  }
  return undefined;
}

/** The container and blob name of a client-given path, or a ValidationError naming `where`. */
export function checkBlobPath(path: unknown, containers: readonly string[], where: string): BlobLocation {
  const problem = blobPathProblem(path, containers);
  if (problem !== undefined) throw new ValidationError(`${where}: ${problem}`, [{ where, problem }]);
  const p = path as string;
  const slash = p.indexOf('/');
  return { container: p.slice(0, slash), name: p.slice(slash + 1) };
}
