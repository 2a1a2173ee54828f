import { describe, expect, it } from 'vitest';
import { parseSchedule, ScheduleError } from '../../local/timers/ncrontab';

const at = (iso: string) => new Date(iso);

describe('NCRONTAB schedules', () => {
  it('every five minutes, seconds first', () => {
    expect(parseSchedule('0 */5 * * * *').next(at('2026-01-01T10:02:30Z')).toISOString()).toBe('2026-01-01T10:05:00.000Z');
  });

  it('the next occurrence is strictly after the given time', () => {
    expect(parseSchedule('0 */5 * * * *').next(at('2026-01-01T10:05:00Z')).toISOString()).toBe('2026-01-01T10:10:00.000Z');
  });

  it('every 30 seconds', () => {
    expect(parseSchedule('*/30 * * * * *').next(at('2026-01-01T10:00:10Z')).toISOString()).toBe('2026-01-01T10:00:30.000Z');
  });

  it('weekdays at 09:30 with day names, rolling over a weekend', () => {
    // 2026-01-02 is a Friday.
    expect(parseSchedule('0 30 9 * * MON-FRI').next(at('2026-01-02T10:00:00Z')).toISOString()).toBe('2026-01-05T09:30:00.000Z');
  });

  it('lists and ranges with steps', () => {
    const s = parseSchedule('0 0 1-5/2,12 * * *');
    expect(s.next(at('2026-01-01T01:00:00Z')).toISOString()).toBe('2026-01-01T03:00:00.000Z');
    expect(s.next(at('2026-01-01T05:00:00Z')).toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('first of the month and months by name, across a year end', () => {
    expect(parseSchedule('0 0 0 1 JAN *').next(at('2026-03-01T00:00:00Z')).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('a TimeSpan repeats at its interval', () => {
    expect(parseSchedule('00:05:00').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-01T00:05:00.000Z');
    expect(parseSchedule('1.00:00:00').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });

  it('refuses five-field crontabs and out-of-range values, saying which', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/six fields/);
    expect(() => parseSchedule('0 61 * * * *')).toThrow(/minute value "61" is out of range 0-59/);
    expect(() => parseSchedule('0 0 0 31 2 *')).toThrow(ScheduleError);
  });
});
