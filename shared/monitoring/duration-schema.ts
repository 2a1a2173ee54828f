/**
 * A duration in monitoring's JSON (rules, definitions, the run request): milliseconds, or a
 * text like "90s", "1h", "7d" (shared/features/definitions/duration.ts); `allowZero` also takes 0 / "0s".
 * One schema so every field says the same thing when it is wrong.
 */
import { z } from 'zod';
import { parseDuration } from '../features/definitions/duration';

export function durationSchema(opts: { allowZero?: boolean } = {}) {
  return z.union([z.number().int().nonnegative(), z.string().trim().min(1)]).transform((v, ctx) => {
    if (opts.allowZero && (v === 0 || (typeof v === 'string' && /^0+[a-z]*$/.test(v)))) return 0;
    if (v === 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a positive duration like "1h", or milliseconds' });
      return z.NEVER;
    }
    try {
      return typeof v === 'number' ? v : parseDuration(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
}
