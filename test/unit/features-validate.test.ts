import { describe, expect, it } from 'vitest';
import { parseEventTime, validateRecords } from '../../shared/features/ingest/validate';
import { churnRepo } from '../../shared/definitions/churn';

const RECEIVED = Date.UTC(2024, 4, 1, 12, 0, 0);
const good = { user_id: 'u1', order_id: 'o1', amount: 12.5, currency: 'EUR', ts: '2024-05-01T10:00:00Z' };

/** The reason one record is rejected for (purchases source). */
function reasonFor(record: unknown): string {
  const { accepted, rejected } = validateRecords(churnRepo, 'purchases', [{ record, position: 'line 7' }], {
    receivedAt: RECEIVED,
  });
  expect(accepted).toEqual([]);
  expect(rejected).toHaveLength(1);
  expect(rejected[0]!.position).toBe('line 7');
  expect(rejected[0]!.record).toBe(record);
  return rejected[0]!.reason;
}

describe('validateRecords', () => {
  it('accepts good records with their event time, receive time, parsed data and position', () => {
    const { accepted, rejected } = validateRecords(
      churnRepo,
      'purchases',
      [{ record: good, position: { partition: '0', sequence: 41 } }],
      {
        receivedAt: RECEIVED,
      },
    );
    expect(rejected).toEqual([]);
    expect(accepted).toEqual([
      {
        source: 'purchases',
        eventTs: Date.UTC(2024, 4, 1, 10),
        createdTs: RECEIVED,
        data: good,
        position: { partition: '0', sequence: 41 },
      },
    ]);
  });

  it('refuses an event time more than the allowed skew ahead of its arrival, naming the setting', () => {
    expect(reasonFor({ ...good, ts: '9999-12-30T00:00:00Z' })).toBe(
      'field "ts": event time 9999-12-30T00:00:00.000Z is more than 1h ahead of its arrival at 2024-05-01T12:00:00.000Z (STRATA_MAX_FUTURE_SKEW); fix the producer\'s clock',
    );
    const at = (iso: string, maxFutureSkewMs?: number) =>
      validateRecords(churnRepo, 'purchases', [{ record: { ...good, ts: iso }, position: 1 }], {
        receivedAt: RECEIVED,
        ...(maxFutureSkewMs ? { maxFutureSkewMs } : {}),
      }).accepted.length;
    expect(at('2024-05-01T13:00:00Z')).toBe(1); // exactly 1 h ahead
    expect(at('2024-05-01T13:00:00.001Z')).toBe(0);
    expect(at('2024-05-01T13:00:00.001Z', 2 * 3_600_000)).toBe(1);
  });

  it('keeps every record, in order, in exactly one list', () => {
    const batch = [good, { ...good, amount: 'x' }, { ...good, order_id: 'o2' }, null].map((record, i) => ({
      record,
      position: i,
    }));
    const { accepted, rejected } = validateRecords(churnRepo, 'purchases', batch, { receivedAt: RECEIVED });
    expect(accepted.map((a) => a.position)).toEqual([0, 2]);
    expect(rejected.map((r) => r.position)).toEqual([1, 3]);
  });

  it('says which field has the wrong type, what it expected and what it got', () => {
    expect(reasonFor({ ...good, amount: 'abc' })).toBe('field "amount": expected number, got string "abc"');
    expect(reasonFor({ ...good, user_id: 42 })).toBe('field "user_id": expected string, got number 42');
    expect(reasonFor({ ...good, amount: true })).toBe('field "amount": expected number, got boolean true');
  });

  it('says which field is missing', () => {
    const { user_id: _drop, ...noUser } = good;
    expect(reasonFor(noUser)).toBe('field "user_id" is missing (expected string)');
  });

  it('names the allowed values of an enum', () => {
    expect(reasonFor({ ...good, currency: 'XYZ' })).toBe(
      'field "currency": expected one of "EUR", "USD", "GBP", got string "XYZ"',
    );
  });

  it('reports range rules with the value', () => {
    expect(reasonFor({ ...good, amount: -3 })).toBe(
      'field "amount": too small: expected number to be >=0, got number -3',
    );
  });

  it('refuses NaN and infinities', () => {
    expect(reasonFor({ ...good, amount: Number.NaN })).toBe('field "amount": expected number, got NaN');
    expect(reasonFor({ ...good, amount: Number.POSITIVE_INFINITY })).toMatch(/^field "amount": .*got number Infinity$/);
  });

  it('refuses numbers so large that the sum over a window would overflow (stored as null, served as 0)', () => {
    expect(reasonFor({ ...good, amount: 1e308 })).toBe(
      'field "amount": number 1e+308 is too large (at most 1e+250 in magnitude, so sums over windows stay finite)',
    );
    expect(
      validateRecords(churnRepo, 'purchases', [{ record: { ...good, amount: 1e250 }, position: 'line 8' }], {
        receivedAt: RECEIVED,
      }).accepted,
    ).toHaveLength(1);
  });

  it('refuses a record that is not an object', () => {
    expect(reasonFor('just text')).toBe('record is not a JSON object: got string "just text"');
    expect(reasonFor([1, 2])).toBe('record is not a JSON object: got an array');
    expect(reasonFor(null)).toBe('record is not a JSON object: got null');
  });

  it('explains a missing or unreadable event time', () => {
    const { ts: _drop, ...noTs } = good;
    expect(reasonFor(noTs)).toBe(
      'field "ts" is missing (the event time: an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds)',
    );
    expect(reasonFor({ ...good, ts: 'yesterday' })).toBe(
      'field "ts": expected an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds, got string "yesterday"',
    );
    expect(reasonFor({ ...good, ts: '2024-02-30T10:00:00Z' })).toBe(
      'field "ts": string "2024-02-30T10:00:00Z" is not a real time (month 1-12, day within the month, hour 0-23, minute and second 0-59)',
    );
    expect(reasonFor({ ...good, ts: Number.NaN })).toBe(
      'field "ts": expected an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds, got NaN',
    );
    expect(reasonFor({ ...good, ts: null })).toBe(
      'field "ts": expected an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds, got null',
    );
    expect(reasonFor({ ...good, ts: 1714557600 })).toBe(
      'field "ts": expected epoch milliseconds, got number 1714557600, which looks like epoch seconds (multiply by 1000)',
    );
  });

  it('lists every problem of a record', () => {
    expect(reasonFor({ ...good, amount: 'abc', currency: 1, ts: 'soon' })).toBe(
      'field "ts": expected an ISO-8601 time (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds, got string "soon"; ' +
        'field "amount": expected number, got string "abc"; field "currency": expected one of "EUR", "USD", "GBP", got number 1',
    );
  });

  it('rejects the whole batch of an unknown source, naming the defined ones', () => {
    const { accepted, rejected } = validateRecords(churnRepo, 'purchase', [
      { record: good, position: 1 },
      { record: good, position: 2 },
    ]);
    expect(accepted).toEqual([]);
    expect(rejected.map((r) => r.reason)).toEqual([
      'unknown source "purchase" (did you mean "purchases"?); known: clicks, purchases, churn_labels',
      'unknown source "purchase" (did you mean "purchases"?); known: clicks, purchases, churn_labels',
    ]);
  });
});

describe('parseEventTime', () => {
  it.each([
    ['2024-05-01T10:00:00Z', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T10:00:00.250Z', Date.UTC(2024, 4, 1, 10, 0, 0, 250)],
    ['2024-05-01T12:00:00+02:00', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T05:30:00-0430', Date.UTC(2024, 4, 1, 10)],
    ['2024-05-01T10:00', Date.UTC(2024, 4, 1, 10)], // no offset: UTC
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-05-01 10:00:00', Date.UTC(2024, 4, 1, 10)],
    [1714557600000, 1714557600000],
    ['1714557600000', 1714557600000], // CSV gives digits as text
    [1500, 1500],
  ])('reads %j', (input, ms) => {
    expect(parseEventTime(input)).toEqual({ ok: true, ms });
  });

  it.each([
    ['2024-13-01T00:00:00Z'],
    ['2024-05-01T24:00:00Z'],
    ['01/05/2024'],
    [''],
    [-5],
    [{}],
    [true],
    [Number.POSITIVE_INFINITY],
  ])('refuses %j', (input) => {
    expect(parseEventTime(input).ok).toBe(false);
  });
});
