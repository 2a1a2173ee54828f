/**
 * NCRONTAB schedules as Azure Functions reads them: six fields, seconds first
 * (`{second} {minute} {hour} {day} {month} {day-of-week}`), five fields as classic cron writes
 * them (`{minute} {hour} {day} {month} {day-of-week}`, seconds 0: the host's NCrontab parses
 * both forms), or a TimeSpan (`hh:mm:ss`, repeating from start). Times are UTC
 * (WEBSITE_TIME_ZONE is not supported locally).
 *
 * Evaluated as NCrontab (github.com/atifaziz/NCrontab, what Azure uses) does, not as classic
 * cron: a time matches when its day of month AND its day of week match, also when both fields
 * are restricted (`0 0 0 13 * FRI` is only Friday the 13th); day of week is 0-6 (Sunday 0; 7 is
 * refused); a name is any prefix of the English name (`J` January, `Augu` August, `sunday`).
 */
export interface Schedule {
  /** The first occurrence strictly after `after`. */
  next(after: Date): Date;
  readonly expression: string;
}

const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
/** The Gregorian calendar repeats every 400 years (146,097 days, a whole number of weeks): a schedule with no time in them never fires. */
const CALENDAR_CYCLE_MS = 146_097 * 86_400_000;

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
  let v: number;
  if (/^[0-9]/.test(raw)) v = /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
  else {
    // NCrontab: the first name the text is a prefix of (case-insensitive).
    const upper = raw.toUpperCase();
    const named = upper ? (f.names?.findIndex((n) => n.startsWith(upper)) ?? -1) : -1;
    if (named < 0) {
      throw new ScheduleError(
        `schedule "${expr}": "${raw}" is not a ${f.name} value${f.names ? ` (names: ${f.names.map((n) => n.slice(0, 3)).join(', ')})` : ''}`,
      );
    }
    v = named + (f.nameBase ?? 0);
  }
  if (!Number.isInteger(v) || v < f.min || v > f.max) {
    const hint = f.name === 'day-of-week' && v === 7 ? ' (Sunday is 0, as in NCrontab)' : '';
    throw new ScheduleError(`schedule "${expr}": ${f.name} value "${raw}" is out of range ${f.min}-${f.max}${hint}`);
  }
  return v;
}

function parseField(raw: string, f: FieldSpec, expr: string): Set<number> {
  const out = new Set<number>();
  for (const part of raw.split(',')) {
    const [rangePart, stepPart] = part.split('/') as [string, string | undefined];
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step < 1)
      throw new ScheduleError(`schedule "${expr}": bad step "${stepPart}" in ${f.name}`);
    let lo: number;
    let hi: number;
    if (rangePart === '*') {
      lo = f.min;
      hi = f.max;
    } else if (rangePart.includes('-')) {
      const [a, b] = rangePart.split('-') as [string, string];
      lo = parseValue(a, f, expr);
      hi = parseValue(b, f, expr);
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

  constructor(readonly expression: string) {
    const written = expression.trim().split(/\s+/);
    if (written.length !== 6 && written.length !== 5) {
      throw new ScheduleError(
        `schedule "${expression}": NCRONTAB needs six fields (second minute hour day month day-of-week) or five (minute hour day month day-of-week, at second 0), got ${written.length}`,
      );
    }
    const fields = written.length === 5 ? ['0', ...written] : written;
    this.sets = fields.map((raw, i) => parseField(raw, FIELDS[i]!, expression));
  }

  /** NCrontab: the day of month and the day of week must both match (not classic cron's OR). */
  private dayMatches(d: Date): boolean {
    return this.sets[3]!.has(d.getUTCDate()) && this.sets[5]!.has(d.getUTCDay());
  }

  next(after: Date): Date {
    const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
    const limit = after.getTime() + CALENDAR_CYCLE_MS;
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
  constructor(
    readonly expression: string,
    private readonly ms: number,
  ) {}
  next(after: Date): Date {
    return new Date(after.getTime() + this.ms);
  }
}

/** A .NET TimeSpan as host.json and schedules write it (`hh:mm:ss`, `d.hh:mm:ss`), in ms; undefined if it is not one. */
export function parseTimeSpanMs(text: string): number | undefined {
  const ts = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(text.trim());
  if (!ts) return undefined;
  const [, d, h, m, s] = ts;
  return (((Number(d ?? 0) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

export function parseSchedule(expression: string): Schedule {
  const ms = parseTimeSpanMs(expression);
  if (ms !== undefined) {
    if (ms <= 0) throw new ScheduleError(`schedule "${expression}": interval must be positive`);
    return new IntervalSchedule(expression, ms);
  }
  const s = new CronSchedule(expression);
  s.next(new Date()); // refuse schedules that can never fire (e.g. 31 February) at start, not at run time
  return s;
}

/** Whether `expression` is a schedule parseSchedule accepts (for settings validated by a schema). */
export function isSchedule(expression: string): boolean {
  try {
    parseSchedule(expression);
    return true;
  } catch (e) {
    if (e instanceof ScheduleError) return false;
    throw e;
  }
}
