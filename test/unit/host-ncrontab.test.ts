import { describe, expect, it } from 'vitest';
import { parseSchedule, ScheduleError } from '../../local/timers/ncrontab';

const at = (iso: string) => new Date(iso);

describe('NCRONTAB schedules', () => {
  it('every five minutes, seconds first', () => {
    expect(parseSchedule('0 */5 * * * *').next(at('2026-01-01T10:02:30Z')).toISOString()).toBe(
      '2026-01-01T10:05:00.000Z',
    );
  });

  it('the next occurrence is strictly after the given time', () => {
    expect(parseSchedule('0 */5 * * * *').next(at('2026-01-01T10:05:00Z')).toISOString()).toBe(
      '2026-01-01T10:10:00.000Z',
    );
  });

  it('every 30 seconds', () => {
    expect(parseSchedule('*/30 * * * * *').next(at('2026-01-01T10:00:10Z')).toISOString()).toBe(
      '2026-01-01T10:00:30.000Z',
    );
  });

  it('weekdays at 09:30 with day names, rolling over a weekend', () => {
    // 2026-01-02 is a Friday.
    expect(parseSchedule('0 30 9 * * MON-FRI').next(at('2026-01-02T10:00:00Z')).toISOString()).toBe(
      '2026-01-05T09:30:00.000Z',
    );
  });

  it('lists and ranges with steps', () => {
    const s = parseSchedule('0 0 1-5/2,12 * * *');
    expect(s.next(at('2026-01-01T01:00:00Z')).toISOString()).toBe('2026-01-01T03:00:00.000Z');
    expect(s.next(at('2026-01-01T05:00:00Z')).toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('first of the month and months by name, across a year end', () => {
    expect(parseSchedule('0 0 0 1 JAN *').next(at('2026-03-01T00:00:00Z')).toISOString()).toBe(
      '2027-01-01T00:00:00.000Z',
    );
  });

  it('a TimeSpan repeats at its interval', () => {
    expect(parseSchedule('00:05:00').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-01T00:05:00.000Z');
    expect(parseSchedule('1.00:00:00').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });

  it('refuses other field counts and out-of-range values, saying which', () => {
    expect(() => parseSchedule('*/5 * * *')).toThrow(/six fields .* or five .*, got 4/);
    expect(() => parseSchedule('0 0 * * * * *')).toThrow(/got 7/);
    expect(() => parseSchedule('0 61 * * * *')).toThrow(/minute value "61" is out of range 0-59/);
    expect(() => parseSchedule('61 * * * *')).toThrow(/minute value "61" is out of range 0-59/);
    expect(() => parseSchedule('* * * * 7')).toThrow(/day-of-week value "7" is out of range 0-6/);
    expect(() => parseSchedule('0 0 0 31 2 *')).toThrow(ScheduleError);
  });

  it('reads five fields as classic cron writes them, at second 0 (NCrontab without seconds)', () => {
    // Every five minutes: 10:02:30 -> 10:05:00, and strictly after 10:05:00 -> 10:10:00.
    expect(parseSchedule('*/5 * * * *').next(at('2026-01-01T10:02:30Z')).toISOString()).toBe(
      '2026-01-01T10:05:00.000Z',
    );
    expect(parseSchedule('*/5 * * * *').next(at('2026-01-01T10:05:00Z')).toISOString()).toBe(
      '2026-01-01T10:10:00.000Z',
    );
    // Every minute fires on the minute, never at the seconds in between.
    expect(parseSchedule('* * * * *').next(at('2026-01-01T10:00:01Z')).toISOString()).toBe('2026-01-01T10:01:00.000Z');
    // Sundays 02:00: 2026-01-01 is a Thursday, so the next is Sunday the 4th.
    expect(parseSchedule('0 2 * * 0').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-04T02:00:00.000Z');
    // Weekdays 09:30 by name from Friday 10:00 -> Monday the 5th.
    expect(parseSchedule('30 9 * * MON-FRI').next(at('2026-01-02T10:00:00Z')).toISOString()).toBe(
      '2026-01-05T09:30:00.000Z',
    );
    // Day of month AND day of week, as with six fields: Friday the 13th (February 2026).
    expect(parseSchedule('0 0 13 * FRI').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe(
      '2026-02-13T00:00:00.000Z',
    );
    // 1st of January and July at 00:15, across a year end.
    expect(parseSchedule('15 0 1 JAN,JUL *').next(at('2026-07-01T00:15:00Z')).toISOString()).toBe(
      '2027-01-01T00:15:00.000Z',
    );
    // The same schedule written with a seconds field gives the same occurrences.
    const five = parseSchedule('10-20/5 8,17 * * *');
    const six = parseSchedule('0 10-20/5 8,17 * * *');
    let a = at('2026-03-01T12:00:00Z');
    let b = a;
    for (let i = 0; i < 6; i++) {
      a = five.next(a);
      b = six.next(b);
      expect(a.toISOString()).toBe(b.toISOString());
    }
    expect(a.toISOString()).toBe('2026-03-02T08:20:00.000Z'); // 17:10, 17:15, 17:20, then 08:10, 08:15, 08:20
    expect(() => parseSchedule('0 0 31 2 *')).toThrow(/never fires/);
  });

  it('refuses day-of-week 7 as NCrontab does (Sunday is 0)', () => {
    expect(() => parseSchedule('0 0 0 * * 7')).toThrow(/day-of-week value "7" is out of range 0-6 \(Sunday is 0/);
    expect(() => parseSchedule('0 0 0 * * 1-7')).toThrow(/out of range 0-6/);
  });
});

/**
 * Vectors from NCrontab's own test suite (NCrontab.Tests/CrontabScheduleTests.cs, the library
 * Azure Functions evaluates schedules with), written with a seconds field where the original has
 * five fields. Times are `dd/mm/yyyy hh:mm:ss` as there, read as UTC.
 */
describe('NCRONTAB as NCrontab evaluates it', () => {
  const ncrontab = (s: string) => {
    const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d)$/.exec(s)!;
    return new Date(Date.UTC(Number(m[3]), Number(m[2]) - 1, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])));
  };
  const vectors: Array<[string, string, string]> = [
    // Day of month AND day of week (both restricted): the first Monday that is a 1st.
    ['01/01/2003 12:00:00', '0 45 16 1 * Mon', '01/09/2003 16:45:00'],
    ['01/09/2003 23:45:00', '0 45 16 1 * Mon', '01/12/2003 16:45:00'],
    // Day of week alone, by number and by name.
    ['26/06/2003 10:00:00', '0 30 6 * * 0', '29/06/2003 06:30:00'],
    ['26/06/2003 10:00:00', '0 30 6 * * sunday', '29/06/2003 06:30:00'],
    ['26/06/2003 10:00:00', '0 30 6 * * SUNDAY', '29/06/2003 06:30:00'],
    ['19/06/2003 00:00:00', '0 1 12 * * 2', '24/06/2003 12:01:00'],
    ['24/06/2003 12:01:00', '0 1 12 * * 2', '01/07/2003 12:01:00'],
    ['01/06/2003 14:55:00', '0 15 18 * * Mon', '02/06/2003 18:15:00'],
    ['30/06/2003 18:15:00', '0 15 18 * * Mon', '07/07/2003 18:15:00'],
    ['01/01/2003 00:00:00', '0 * * * * Mon', '06/01/2003 00:00:00'],
    // Month names as any prefix of the English name, in lists and ranges.
    [
      '11/03/1988 14:23:00',
      '0 20 * * january,FeB,Mar,april,May,JuNE,July,Augu,SEPT-October,Nov,DECEM *',
      '11/03/1988 15:20:00',
    ],
    ['01/07/2002 05:00:00', '0 10 * * February,April-Jun *', '01/02/2003 00:10:00'],
    // Days past the end of a month are skipped; leap years.
    ['31/01/2000 00:00:00', '0 0 0 15,30,31 * *', '15/02/2000 00:00:00'],
    ['30/04/2000 00:00:00', '0 0 0 15,30,31 * *', '15/05/2000 00:00:00'],
    ['29/02/2000 12:01:00', '0 1 12 29 2 *', '29/02/2004 12:01:00'],
    // Seconds.
    ['01/01/2003 00:00:49', '45-47,48,49 * * * * *', '01/01/2003 00:01:45'],
    ['01/01/2003 00:00:57', '2/5 * * * * *', '01/01/2003 00:01:02'],
    ['24/02/2021 09:50:35', '* 0-1 10 * * *', '24/02/2021 10:00:00'],
  ];
  for (const [from, expression, next] of vectors) {
    it(`${expression} after ${from} is ${next}`, () => {
      expect(parseSchedule(expression).next(ncrontab(from)).toISOString()).toBe(ncrontab(next).toISOString());
    });
  }

  it('0 0 0 13 * FRI fires only on Friday the 13th (classic cron would fire every Friday and every 13th)', () => {
    const s = parseSchedule('0 0 0 13 * FRI');
    const fired: string[] = [];
    let t = at('2026-01-01T00:00:00Z');
    for (let i = 0; i < 3; i++) fired.push((t = s.next(t)).toISOString().slice(0, 10));
    expect(fired).toEqual(['2026-02-13', '2026-03-13', '2026-11-13']);
  });

  it('finds rare days far ahead: 29 February on a Monday', () => {
    // NCrontab: GetNextOccurrence("0 0 29 Feb Mon", 9000-01-01) is 9008-02-29.
    expect(parseSchedule('0 0 0 29 Feb Mon').next(at('9000-01-01T00:00:00Z')).toISOString()).toBe(
      '9008-02-29T00:00:00.000Z',
    );
    expect(parseSchedule('0 0 0 29 Feb Mon').next(at('2026-01-01T00:00:00Z')).toISOString()).toBe(
      '2044-02-29T00:00:00.000Z',
    );
  });

  it('refuses what NCrontab refuses, and a schedule that never fires (31 February) at once', () => {
    for (const bad of [
      '* * * * * mon,bad,wed',
      '* * 1,2,3,456,7,8,9 * * *',
      '* * 1,Z,3,4 * * *',
      '* * 1/Z * * *',
      '* * 3-l2 * * *',
      '* * * * * Sundae',
      '* * * bad * *',
    ]) {
      expect(() => parseSchedule(bad), bad).toThrow(ScheduleError);
    }
    const t0 = Date.now();
    expect(() => parseSchedule('* * * 31 Feb *')).toThrow(/never fires/);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
