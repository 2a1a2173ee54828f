/**
 * Backfill requests at the edge: what is accepted, how it is normalised, what is refused and
 * with which words, and the instance id that makes the same request join the same job.
 */
import { describe, expect, it } from 'vitest';
import { backfillInstanceId, parseBackfillRequest } from '../../shared/features/backfill';
import { churnRepo } from '../../shared/definitions/churn';
import { revisedChurnRepo } from '../helpers/backfill-fixtures';
import type { ValidationError } from '../../shared/errors';

const details = (body: unknown) => {
  try {
    parseBackfillRequest(churnRepo, body);
  } catch (e) {
    return (e as ValidationError).details;
  }
  throw new Error('expected the request to be refused');
};

describe('parseBackfillRequest', () => {
  it('widens the range to whole UTC days, defaults to daily intervals, sorts and dedupes views', () => {
    expect(parseBackfillRequest(churnRepo, { views: ['user_purchases', 'user_clicks', 'user_clicks'], from: '2024-03-01T05:00:00Z', to: '2024-03-03T01:00:00Z' })).toEqual({
      views: ['user_clicks', 'user_purchases'],
      from: Date.UTC(2024, 2, 1),
      to: Date.UTC(2024, 2, 4),
      intervalMs: 86_400_000,
      maxParallel: 4,
    });
    expect(parseBackfillRequest(churnRepo, { views: ['user_clicks'], from: Date.UTC(2024, 2, 1), to: Date.UTC(2024, 2, 2), interval: '6h', maxParallel: 8 })).toMatchObject({ intervalMs: 6 * 3_600_000, maxParallel: 8 });
    expect(parseBackfillRequest(churnRepo, { views: ['user_clicks'], from: '2024-03-01', to: '2024-03-15', interval: '7d' }).intervalMs).toBe(7 * 86_400_000);
  });

  it('names every problem with where it is and how to fix it', () => {
    expect(details({ views: [], from: 'yesterday' })).toEqual([
      { where: 'views', problem: 'name at least one feature view' },
      { where: 'from', problem: expect.stringContaining('ISO-8601') },
      { where: 'to', problem: 'required: an ISO-8601 time (e.g. 2024-03-01) or epoch milliseconds' },
    ]);
    expect(details({ views: ['user_click', 'nope'], from: '2024-03-02', to: '2024-03-01', interval: '5h' })).toEqual([
      { where: 'views[0]', problem: expect.stringContaining('did you mean "user_clicks"') },
      { where: 'views[1]', problem: expect.stringContaining('views: user_clicks, user_purchases, user_engagement') },
      { where: 'interval', problem: '5h does not tile UTC days; use whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or whole days (1d, 7d)' },
      { where: 'to', problem: 'must be after from (2024-03-02T00:00:00.000Z); the range is [from, to)' },
    ]);
    expect(details({ views: ['user_clicks'], from: '2000-01-01', to: '2024-01-01', interval: '1h' })).toEqual([
      { where: 'to', problem: expect.stringMatching(/^210384 intervals is more than 5000/) },
    ]);
    expect(details({ views: ['user_clicks'], from: '2024-01-01', to: '2024-01-02', maxParallel: 100 })).toEqual([{ where: 'maxParallel', problem: expect.stringContaining('at most 32') }]);
  });
});

describe('backfillInstanceId', () => {
  const req = (o: object = {}) => parseBackfillRequest(churnRepo, { views: ['user_clicks'], from: '2024-03-01', to: '2024-03-08', ...o });

  it('is the same for the same request, whatever the spelling or the fan-out', () => {
    const id = backfillInstanceId(churnRepo, req());
    expect(id).toMatch(/^backfill-[0-9a-f]{24}$/);
    expect(backfillInstanceId(churnRepo, req({ from: '2024-03-01T10:00:00Z', maxParallel: 2 }))).toBe(id);
    expect(backfillInstanceId(churnRepo, parseBackfillRequest(churnRepo, { views: ['user_clicks', 'user_clicks'], from: Date.UTC(2024, 2, 1), to: '2024-03-08', interval: '1d' }))).toBe(id);
  });

  it('differs for other work: another range, interval or view, or the same request after a definition change', () => {
    const id = backfillInstanceId(churnRepo, req());
    expect(backfillInstanceId(churnRepo, req({ to: '2024-03-09' }))).not.toBe(id);
    expect(backfillInstanceId(churnRepo, req({ interval: '12h' }))).not.toBe(id);
    expect(backfillInstanceId(churnRepo, req({ views: ['user_purchases'] }))).not.toBe(id);
    expect(backfillInstanceId(revisedChurnRepo(), req())).not.toBe(id);
  });
});
