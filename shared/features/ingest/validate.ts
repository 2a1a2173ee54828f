/**
 * Validating a batch of raw records against their source, at the edge of the core.
 *
 *   validateRecords(repo, sourceName, batch: RawRecord<P>[], { receivedAt?, maxFutureSkewMs? })
 *     -> { accepted: ValidRecord<P>[], rejected: RejectedRecord<P>[] }
 *   parseEventTime(value) -> { ok: true, ms } | { ok: false, problem }
 *
 * `position` is whatever the caller uses to find a record again (a file line, an Event Hubs
 * partition + sequence number); it is passed through untouched, so a dead-letter entry says where
 * the bad record came from. Nothing is dropped: every record ends in exactly one of the two lists,
 * in input order. An unknown source rejects the whole batch (reason names the defined sources).
 *
 * Event times: an ISO-8601 string (`2024-05-01T12:00:00Z`, offset optional — none means UTC,
 * date-only means midnight UTC) or epoch milliseconds (a number, or a string of digits as CSV
 * gives them). Numbers that look like epoch *seconds* are refused with that hint. An event time
 * more than `maxFutureSkewMs` (STRATA_MAX_FUTURE_SKEW, default 1 h) ahead of the record's arrival
 * is refused too: one wrong producer clock (9999-12-30) would otherwise move the source's event
 * clock so far ahead that every later record counts as late.
 *
 * Numbers must stay within ±1e250 (MAX_NUMBER_MAGNITUDE): sums and means over any window of them
 * stay finite, so a value such as 1e308 is refused here with its reason rather than overflowing an
 * aggregate to Infinity, which no store can hold (it would be stored as null and served as 0).
 *
 * Reasons read like `field "amount": expected number, got string "abc"`; several problems of one
 * record are joined with "; ".
 */
import type { z } from 'zod';
import type { FeatureRepo, ResolvedSource } from '../definitions/repo';
import { didYouMean, known } from '../../suggest';
import { formatDuration } from '../definitions/duration';

export interface RawRecord<P = unknown> {
  record: unknown;
  position: P;
}

export interface ValidRecord<P = unknown> {
  source: string;
  /** Epoch ms of the event-time field. */
  eventTs: number;
  /** When Strata received it (the caller's receivedAt). */
  createdTs: number;
  /** The record as the schema parsed it (coercions applied, unknown fields dropped unless the schema keeps them). */
  data: Record<string, unknown>;
  position: P;
}

export interface RejectedRecord<P = unknown> {
  record: unknown;
  reason: string;
  position: P;
}

export interface ValidationResult<P = unknown> {
  accepted: ValidRecord<P>[];
  rejected: RejectedRecord<P>[];
}

export function validateRecords<P>(
  repo: FeatureRepo,
  sourceName: string,
  batch: ReadonlyArray<RawRecord<P>>,
  opts: { receivedAt?: number; maxFutureSkewMs?: number } = {},
): ValidationResult<P> {
  const source = repo.sources.get(sourceName);
  if (!source) {
    const reason = `unknown source "${sourceName}"${didYouMean(sourceName, repo.sources.keys())}; ${known(repo.sources.keys())}`;
    return { accepted: [], rejected: batch.map((b) => ({ record: b.record, reason, position: b.position })) };
  }
  return validateAgainst(
    source,
    batch,
    opts.receivedAt ?? Date.now(),
    opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
  );
}

/** Deeper records are refused: real events are shallow, and recursion over 4,000 levels overflows the stack. */
export const MAX_RECORD_DEPTH = 64;

/** Levels of objects and arrays within each other (a scalar is 0), counted up to `limit + 1`, without recursion. */
export function nestingDepth(value: unknown, limit: number): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(v) ? v : Object.values(v as Record<string, unknown>))
      if (child !== null && typeof child === 'object') stack.push([child, d + 1]);
  }
  return deepest;
}

/** How far ahead of its arrival an event time may be (STRATA_MAX_FUTURE_SKEW's default). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 3_600_000;

/** Why a record dated too far ahead of its arrival is refused, or undefined when it is not. */
export function futureSkewProblem(
  eventTime: string,
  eventTs: number,
  receivedAt: number,
  maxFutureSkewMs: number,
): string | undefined {
  if (eventTs - receivedAt <= maxFutureSkewMs) return undefined;
  return `field "${eventTime}": event time ${new Date(eventTs).toISOString()} is more than ${formatDuration(maxFutureSkewMs)} ahead of its arrival at ${new Date(receivedAt).toISOString()} (STRATA_MAX_FUTURE_SKEW); fix the producer's clock`;
}

function validateAgainst<P>(
  source: ResolvedSource,
  batch: ReadonlyArray<RawRecord<P>>,
  receivedAt: number,
  maxFutureSkewMs: number,
): ValidationResult<P> {
  const accepted: ValidRecord<P>[] = [];
  const rejected: RejectedRecord<P>[] = [];
  for (const { record, position } of batch) {
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      rejected.push({ record, reason: `record is not a JSON object: got ${describeValue(record)}`, position });
      continue;
    }
    // Before anything walks it recursively (the schema, serializers): a poison record must fail alone.
    if (nestingDepth(record, MAX_RECORD_DEPTH) > MAX_RECORD_DEPTH) {
      rejected.push({
        record,
        reason: `record is nested more than ${MAX_RECORD_DEPTH} levels deep (objects and arrays within each other); at most ${MAX_RECORD_DEPTH} are accepted`,
        position,
      });
      continue;
    }
    const problems: string[] = [];
    const time = parseEventTime((record as Record<string, unknown>)[source.eventTime]);
    if (!time.ok)
      problems.push(
        time.missing
          ? `field "${source.eventTime}" is missing (the event time: ${EXPECTED_TIME.replace('expected ', '')})`
          : `field "${source.eventTime}": ${time.problem}`,
      );
    const skew = time.ok ? futureSkewProblem(source.eventTime, time.ms, receivedAt, maxFutureSkewMs) : undefined;
    if (skew) problems.push(skew);
    const parsed = source.schema.safeParse(record);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        // the event-time field is already explained above, in its own words
        if (!time.ok && issue.path.length === 1 && issue.path[0] === source.eventTime) continue;
        problems.push(describeIssue(issue, record));
      }
    }
    if (parsed.success) problems.push(...magnitudeProblems(parsed.data as Record<string, unknown>));
    if (problems.length || !time.ok || !parsed.success) {
      rejected.push({ record, reason: problems.join('; '), position });
      continue;
    }
    accepted.push({
      source: source.name,
      eventTs: time.ms,
      createdTs: receivedAt,
      data: parsed.data as Record<string, unknown>,
      position,
    });
  }
  return { accepted, rejected };
}

/** The largest magnitude a number field may hold (see the header). */
export const MAX_NUMBER_MAGNITUDE = 1e250;

function magnitudeProblems(data: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [field, v] of Object.entries(data)) {
    if (typeof v === 'number' && Math.abs(v) > MAX_NUMBER_MAGNITUDE) {
      out.push(
        `field "${field}": ${describeValue(v)} is too large (at most ${MAX_NUMBER_MAGNITUDE} in magnitude, so sums over windows stay finite)`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Event times

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const MAX_MS = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
const EXPECTED_TIME = 'expected an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds';

export type EventTimeResult = { ok: true; ms: number } | { ok: false; problem: string; missing?: true };

/** Epoch ms from an event-time value, or what is wrong with it. */
export function parseEventTime(value: unknown): EventTimeResult {
  if (value === undefined) return { ok: false, problem: 'missing', missing: true };
  if (typeof value === 'number') return fromEpoch(value, value);
  if (typeof value !== 'string') return { ok: false, problem: `${EXPECTED_TIME}, got ${describeValue(value)}` };
  const s = value.trim();
  if (/^\d+$/.test(s)) return fromEpoch(Number(s), value);
  const m = ISO.exec(s);
  if (!m) return { ok: false, problem: `${EXPECTED_TIME}, got ${describeValue(value)}` };
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone] = m;
  const year = Number(y),
    month = Number(mo),
    day = Number(d),
    hour = Number(h),
    minute = Number(mi),
    second = Number(sec);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return {
      ok: false,
      problem: `${describeValue(value)} is not a real time (month 1-12, day within the month, hour 0-23, minute and second 0-59)`,
    };
  }
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0));
  }
  const ms =
    Date.UTC(year, month - 1, day, hour, minute, second, Number(frac.padEnd(3, '0').slice(0, 3))) - offsetMin * 60_000;
  return { ok: true, ms };
}

function fromEpoch(n: number, original: unknown): EventTimeResult {
  if (!Number.isFinite(n)) return { ok: false, problem: `${EXPECTED_TIME}, got ${describeValue(original)}` };
  if (n < 0 || n > MAX_MS)
    return { ok: false, problem: `epoch milliseconds out of range (0 to ${MAX_MS}), got ${describeValue(original)}` };
  if (n >= 1e9 && n < 1e11) {
    return {
      ok: false,
      problem: `expected epoch milliseconds, got ${describeValue(original)}, which looks like epoch seconds (multiply by 1000)`,
    };
  }
  return { ok: true, ms: Math.floor(n) };
}

// ---------------------------------------------------------------------------------------------
// Reasons

function describeIssue(issue: z.core.$ZodIssue, record: unknown): string {
  const path = formatPath(issue.path);
  const value = valueAt(record, issue.path);
  const field = `field "${path}"`;
  switch (issue.code) {
    case 'invalid_type': {
      const expected = issue.expected === 'int' ? 'a whole number' : issue.expected;
      if (value === undefined) return `${field} is missing (expected ${expected})`;
      return `${field}: expected ${expected}, got ${describeValue(value)}`;
    }
    case 'invalid_value':
      return `${field}: expected ${issue.values.length === 1 ? JSON.stringify(issue.values[0]) : `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`}, got ${describeValue(value)}`;
    case 'invalid_union': {
      const expected = [
        ...new Set(
          issue.errors
            .flat()
            .filter((e) => e.code === 'invalid_type')
            .map((e) => (e as { expected: string }).expected),
        ),
      ];
      if (value === undefined)
        return `${field} is missing${expected.length ? ` (expected ${expected.join(' or ')})` : ''}`;
      return `${field}: expected ${expected.length ? expected.join(' or ') : 'another value'}, got ${describeValue(value)}`;
    }
    case 'unrecognized_keys':
      return `unexpected field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${path ? `${path}.` : ''}${k}"`).join(', ')} (the schema does not allow extra fields)`;
    default: {
      const message = issue.message.replace(/^Invalid input: /, '');
      const lead = path ? `${field}: ` : '';
      return `${lead}${message.charAt(0).toLowerCase()}${message.slice(1)}${value !== undefined && path ? `, got ${describeValue(value)}` : ''}`;
    }
  }
}

function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

function valueAt(record: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let v: unknown = record;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** `string "abc"`, `number 12`, `null`, `NaN`, `an array`, ... — short enough for a log line. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (typeof v === 'number')
    return Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? `number ${v}` : `number ${v > 0 ? 'Infinity' : '-Infinity'}`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return typeof v;
}
