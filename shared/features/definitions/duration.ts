/**
 * Durations in definitions: `'90s'`, `'5m'`, `'1h'`, `'7d'`, `'2w'`, `'250ms'`, or a number of milliseconds.
 *
 *   parseDuration('1h30m') === 5_400_000
 *   formatDuration(5_400_000) === '1h30m'
 */
export type Duration = string | number;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const PART = /(\d+)(ms|s|m|h|d|w)/y;

/**
 * Milliseconds of a duration. Throws a message (without a location: callers prefix the path)
 * that shows the accepted forms.
 */
export function parseDuration(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isInteger(d) || d <= 0) throw new Error(`expected a positive whole number of milliseconds, got ${d}`);
    return d;
  }
  const s = d.trim();
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m) {
      throw new Error(
        `expected a duration like "30s", "5m", "1h", "7d" or "1h30m", got ${JSON.stringify(d)} (cannot read "${s.slice(at)}")`,
      );
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  if (total <= 0) throw new Error(`expected a positive duration like "1h", got ${JSON.stringify(d)}`);
  return total;
}

/** The shortest exact spelling of a duration, for messages and the DAG view. */
export function formatDuration(ms: number): string {
  if (ms <= 0 || !Number.isInteger(ms)) return `${ms}ms`;
  const order: Array<[string, number]> = [
    ['w', UNIT_MS.w!],
    ['d', UNIT_MS.d!],
    ['h', UNIT_MS.h!],
    ['m', UNIT_MS.m!],
    ['s', UNIT_MS.s!],
    ['ms', 1],
  ];
  let rest = ms;
  let out = '';
  for (const [unit, size] of order) {
    if (unit === 'w' && rest % size !== 0) continue; // '10d' reads better than '1w3d'
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
