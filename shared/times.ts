/**
 * One rule for the times a client sends in a request (backfill ranges, training-set spines and
 * asOf): an ISO-8601 string or whole epoch milliseconds, within what a Date can print
 * (1970-01-01 to 9999-12-31), so a value such as 1e308 is a 400 naming the field instead of
 * "Invalid time value" from deep inside.
 */
import { z } from 'zod';

/** 9999-12-31T23:59:59.999Z, the last time toISOString prints with a four-digit year. */
export const MAX_TIME_MS = 253_402_300_799_999;
const RULE =
  'an ISO-8601 time (e.g. 2024-03-01 or 2024-03-01T12:00:00Z) or whole epoch milliseconds from 0 to 9999-12-31';

/** Epoch ms of a client-given time, or why it is not one. */
export function clientTimeMs(v: unknown): { ok: true; ms: number } | { ok: false; problem: string } {
  let ms: number | undefined;
  if (typeof v === 'number' && Number.isInteger(v)) ms = v;
  else if (typeof v === 'string' && v.trim() !== '') ms = Date.parse(v.trim());
  if (ms === undefined || !Number.isFinite(ms)) {
    return {
      ok: false,
      problem:
        v === undefined ? `required: ${RULE}` : `must be ${RULE}, got ${JSON.stringify(v)?.slice(0, 60) ?? typeof v}`,
    };
  }
  if (ms < 0 || ms > MAX_TIME_MS)
    return {
      ok: false,
      problem: `must be between 1970-01-01 and 9999-12-31 (epoch ms 0 to ${MAX_TIME_MS}), got ${JSON.stringify(v)?.slice(0, 60)}`,
    };
  return { ok: true, ms };
}

/** The rule as a zod schema giving epoch ms. */
export const clientTimeSchema = z.unknown().transform((v, ctx) => {
  const r = clientTimeMs(v);
  if (r.ok) return r.ms;
  ctx.addIssue({ code: 'custom', message: r.problem });
  return z.NEVER;
});
