/**
 * NCRONTAB schedules as Azure Functions reads them: six fields, seconds first
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), or a TimeSpan (`hh:mm:ss`,
 * repeating from start). Times are UTC (WEBSITE_TIME_ZONE is not supported locally).
 */
export interface Schedule {
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
  readonly expression: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  nameBase?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { name: 'day-of-week', min: 0, max: 6, names: DAYS, nameBase: 0 },
];

export class ScheduleError extends Error {}

function parseValue(raw: string, f: FieldSpec, expr: string): number {
  const upper = raw.toUpperCase();
  const named = f.names?.indexOf(upper.slice(0, 3)) ?? -1;
  let v = named >= 0 && /^[A-Z]+$/.test(upper) ? named + (f.nameBase ?? 0) : Number(raw);
  if (f.name === 'day-of-week' && v === 7) v = 0;
  if (!Number.isInteger(v) || v < f.min || v > f.max) {
    throw new ScheduleError(`schedule "${expr}": ${f.name} value "${raw}" is out of range ${f.min}-${f.max}`);
  }
  return v;
}

function parseField(raw: string, f: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of raw.split(',')) {
    const [rangePart, stepPart] = part.split('/') as [string, string | undefined];
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`schedule "${expr}": bad step "${stepPart}" in ${f.name}`);
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = f.min;
      hi = f.max;
    } else if (rangePart.includes('-')) {
      const [a, b] = rangePart.split('-') as [string, string];
      lo = parseValue(a, f, expr);
      hi = parseValue(b, f, expr);
      if (f.name === 'day-of-week' && b === '7') hi = 6;
    } else {
      lo = parseValue(rangePart, f, expr);
      hi = stepPart === undefined ? lo : f.max;
    }
    if (lo > hi) throw new ScheduleError(`schedule "${expr}": range ${rangePart} in ${f.name} runs backwards`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

class CronSchedule implements Schedule {
  private readonly sets: Set<number>[];
  private readonly dayStar: boolean;
  private readonly dowStar: boolean;

  constructor(readonly expression: string) {
    const fields = expression.trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new ScheduleError(`schedule "${expression}": NCRONTAB needs six fields (second minute hour day month day-of-week), got ${fields.length}`);
    }
    this.sets = fields.map((raw, i) => parseField(raw, FIELDS[i]!, expression));
    this.dayStar = fields[3] === '*' || fields[3] === '?';
    this.dowStar = fields[5] === '*' || fields[5] === '?';
  }

  private dayMatches(d: Date): boolean {
    const dom = this.sets[3]!.has(d.getUTCDate());
    const dow = this.sets[5]!.has(d.getUTCDay());
    // Classic cron: when both day fields are restricted, either may match.
    if (!this.dayStar && !this.dowStar) return dom || dow;
    return dom && dow;
  }

  next(after: Date): Date {
    const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
    const limit = after.getTime() + 5 * 366 * 86_400_000;
    const [sec, min, hour, , month] = this.sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
    while (t.getTime() <= limit) {
      if (!month.has(t.getUTCMonth() + 1)) {
        t.setUTCMonth(t.getUTCMonth() + 1, 1);
        t.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!this.dayMatches(t)) {
        t.setUTCDate(t.getUTCDate() + 1);
        t.setUTCHours(0, 0, 0, 0);
        continue;
      }
      if (!hour.has(t.getUTCHours())) {
        t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
        continue;
      }
      if (!min.has(t.getUTCMinutes())) {
        t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
        continue;
      }
      if (!sec.has(t.getUTCSeconds())) {
        t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
        continue;
      }
      return t;
    }
    throw new ScheduleError(`schedule "${this.expression}" never fires`);
  }
}

class IntervalSchedule implements Schedule {
  constructor(readonly expression: string, private readonly ms: number) {}
  next(after: Date): Date {
    return new Date(after.getTime() + this.ms);
  }
}

export function parseSchedule(expression: string): Schedule {
  const ts = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(expression.trim());
  if (ts) {
    const [, d, h, m, s] = ts;
    const ms = (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
    if (ms <= 0) throw new ScheduleError(`schedule "${expression}": interval must be positive`);
    return new IntervalSchedule(expression, ms);
  }
  const s = new CronSchedule(expression);
  s.next(new Date()); // refuse schedules that can never fire (e.g. 31 February) at start, not at run time
  return s;
}
