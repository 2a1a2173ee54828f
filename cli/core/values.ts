/**
 * Option values the commands share, parsed once at the edge into numbers, with errors that
 * name the option and show the accepted forms:
 *
 *   time      2026-11-02, 2026-11-02T12:00:00Z, 1793577600000 (epoch ms), now, now-2d, now+1h
 *   duration  90s, 5m, 1h30m, 7d (shared/features/duration)
 *   rate      2000/s, 2000 (per second), 120000/m, 1e6/h
 */
import { parseDuration } from '../../shared/features/definitions/duration';
import { UsageError } from './errors';

export function parseTime(text: string, option: string, now: number = Date.now()): number {
  const s = text.trim();
  const rel = /^now(?:([+-])(.+))?$/i.exec(s);
  if (rel) {
    if (!rel[1]) return now;
    try {
      return now + (rel[1] === '-' ? -1 : 1) * parseDuration(rel[2]!);
    } catch (e) {
      throw new UsageError(`--${option}: ${(e as Error).message}`);
    }
  }
  if (/^\d{10,}$/.test(s)) return Number(s);
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(s) ? `${s}T00:00:00Z` : s);
  if (Number.isNaN(t))
    throw new UsageError(
      `--${option} must be a time: 2026-11-02, 2026-11-02T12:00:00Z, epoch milliseconds, now or now-2d; got "${text}"`,
    );
  return t;
}

export function parseDurationOption(text: string, option: string): number {
  try {
    return parseDuration(text);
  } catch (e) {
    throw new UsageError(`--${option}: ${(e as Error).message}`);
  }
}

const PER: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600 };

/** Events per second. */
export function parseRate(text: string, option: string): number {
  const m = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*(?:\/\s*(s|sec|m|min|h))?\s*$/i.exec(text);
  const n = m ? Number(m[1]) / PER[(m[2] ?? 's').toLowerCase()]! : NaN;
  if (!(n > 0)) throw new UsageError(`--${option} must be a rate such as 2000/s, 500, 60000/m or 1e6/h; got "${text}"`);
  return n;
}

/** A share between 0 and 1 (0.02), or a percentage (2%). */
export function parseShare(text: string, option: string): number {
  const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  const n = pct ? Number(pct[1]) / 100 : Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1))
    throw new UsageError(`--${option} must be a share between 0 and 1 (0.02) or a percentage (2%); got "${text}"`);
  return n;
}
