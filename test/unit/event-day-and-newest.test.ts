// The per-record helpers ingest leans on: the day of an event time (kept for the last day asked)
// and the rows of a write that can win the online compare-and-set.
import { describe, expect, it } from 'vitest';
import { eventDay, eventDaysIn } from '../../shared/features/offline/segment-id';
import { newestPerEntity } from '../../shared/features/online/codec';
import type { FeatureRow } from '../../shared/features/definitions/values';

describe('eventDay', () => {
  it('gives the UTC day of each time, whatever day was asked before', () => {
    const days = [
      '2024-03-01T00:00:00Z',
      '2024-03-01T23:59:59.999Z',
      '2024-03-02T00:00:00Z',
      '2024-03-01T12:00:00Z',
      '1969-12-31T23:59:59Z',
      '2024-02-29T05:00:00Z',
    ];
    expect(days.map((d) => eventDay(Date.parse(d)))).toEqual([
      '2024-03-01',
      '2024-03-01',
      '2024-03-02',
      '2024-03-01',
      '1969-12-31',
      '2024-02-29',
    ]);
  });

  it('refuses a time that is not one', () => {
    expect(() => eventDay(NaN)).toThrow(RangeError);
  });
});

describe('eventDaysIn', () => {
  it('lists the UTC days from the one holding the start to the last one before the end', () => {
    expect(eventDaysIn(Date.parse('2024-02-28T23:00:00Z'), Date.parse('2024-03-01T00:00:00.001Z'))).toEqual([
      '2024-02-28',
      '2024-02-29',
      '2024-03-01',
    ]);
  });

  it('refuses an endless or absurdly long range rather than listing it day by day', () => {
    expect(() => eventDaysIn(-Infinity, 0)).toThrow(RangeError);
    expect(() => eventDaysIn(0, Infinity)).toThrow(RangeError);
    expect(() => eventDaysIn(0, 8.64e15)).toThrow(/at most 100000 days/);
  });
});

describe('newestPerEntity', () => {
  const row = (entityId: string, eventTs: number, createdTs: number, n: number): FeatureRow => ({
    entityId,
    eventTs,
    createdTs,
    values: { n },
  });

  it('keeps the newest (eventTs, then createdTs) row of each entity, in first-seen order', () => {
    const rows = [
      row('a', 10, 10, 1),
      row('b', 5, 5, 2),
      row('a', 30, 1, 3),
      row('a', 30, 2, 4),
      row('b', 4, 9, 5),
      row('c', 1, 1, 6),
    ];
    expect(newestPerEntity(rows).map((r) => r.values.n)).toEqual([4, 2, 6]);
  });

  it('keeps the first of equal rows, as a compare-and-set applied in order does', () => {
    expect(newestPerEntity([row('a', 1, 1, 1), row('a', 1, 1, 2)]).map((r) => r.values.n)).toEqual([1]);
  });

  it('hands back the rows as they are when every entity appears once', () => {
    const rows = [row('a', 1, 1, 1), row('b', 1, 1, 2)];
    expect(newestPerEntity(rows)).toBe(rows);
  });
});
