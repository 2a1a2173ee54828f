/**
 * Backfill requests at the edge: what is accepted, how it is normalised, what is refused and
 * with which words, and the instance id that makes the same request join the same job.
 */
import { describe, expect, it } from 'vitest';
import { backfillInstanceId, parseBackfillJob, parseBackfillRequest } from '../../shared/features/backfill';
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
    expect(
      parseBackfillRequest(churnRepo, {
        views: ['user_purchases', 'user_clicks', 'user_clicks'],
        from: '2024-03-01T05:00:00Z',
        to: '2024-03-03T01:00:00Z',
      }),
    ).toEqual({
      views: ['user_clicks', 'user_purchases'],
      from: Date.UTC(2024, 2, 1),
      to: Date.UTC(2024, 2, 4),
      intervalMs: 86_400_000,
      maxParallel: 4,
    });
    expect(
      parseBackfillRequest(churnRepo, {
        views: ['user_clicks'],
        from: Date.UTC(2024, 2, 1),
        to: Date.UTC(2024, 2, 2),
        interval: '6h',
        maxParallel: 8,
      }),
    ).toMatchObject({ intervalMs: 6 * 3_600_000, maxParallel: 8 });
    expect(
      parseBackfillRequest(churnRepo, { views: ['user_clicks'], from: '2024-03-01', to: '2024-03-15', interval: '7d' })
        .intervalMs,
    ).toBe(7 * 86_400_000);
  });

  it('names every problem with where it is and how to fix it', () => {
    expect(details({ views: [], from: 'yesterday' })).toEqual([
      { where: 'views', problem: 'name at least one feature view' },
      { where: 'from', problem: expect.stringContaining('ISO-8601') },
      { where: 'to', problem: expect.stringMatching(/^required: an ISO-8601 time \(e\.g\. 2024-03-01/) },
    ]);
    expect(details({ views: ['user_click', 'nope'], from: '2024-03-02', to: '2024-03-01', interval: '5h' })).toEqual([
      { where: 'views[0]', problem: expect.stringContaining('did you mean "user_clicks"') },
      { where: 'views[1]', problem: expect.stringContaining('views: user_clicks, user_purchases, user_engagement') },
      {
        where: 'interval',
        problem:
          '5h does not tile UTC days; use whole hours dividing a day (1h, 2h, 3h, 4h, 6h, 8h, 12h) or whole days (1d, 7d)',
      },
      { where: 'to', problem: 'must be after from (2024-03-02T00:00:00.000Z); the range is [from, to)' },
    ]);
    expect(details({ views: ['user_clicks'], from: '2000-01-01', to: '2024-01-01', interval: '1h' })).toEqual([
      { where: 'to', problem: expect.stringMatching(/^210384 intervals is more than 5000/) },
    ]);
    expect(details({ views: ['user_clicks'], from: '2024-01-01', to: '2024-01-02', maxParallel: 100 })).toEqual([
      { where: 'maxParallel', problem: expect.stringContaining('at most 32') },
    ]);
    // Times a Date cannot print are refused at the edge, naming the field (not "Invalid time value" inside).
    expect(details({ views: ['user_clicks'], from: 1e308, to: 2e308 }).map((d) => d.where)).toEqual(['from', 'to']);
    expect(details({ views: ['user_clicks'], from: '+275760-09-13T00:00:00Z', to: '2024-01-01' })[0]).toEqual({
      where: 'from',
      problem: expect.stringContaining('between 1970-01-01 and 9999-12-31'),
    });
    expect(details({ views: ['../x'], from: '2024-01-01', to: '2024-01-02' })).toEqual([
      { where: 'views[0]', problem: expect.stringContaining('lower-case letters') },
    ]);
  });
});

describe('parseBackfillJob: the orchestration checks its input with the same rules', () => {
  const job = {
    views: ['user_clicks'],
    from: Date.UTC(2024, 2, 1),
    to: Date.UTC(2024, 2, 2),
    intervalMs: 3_600_000,
    maxParallel: 2,
  };
  const jobDetails = (input: unknown) => {
    try {
      parseBackfillJob(input);
    } catch (e) {
      return (e as ValidationError).details;
    }
    throw new Error('expected the input to be refused');
  };

  it('accepts what parseBackfillRequest gives', () => {
    expect(
      parseBackfillJob(
        parseBackfillRequest(churnRepo, {
          views: ['user_clicks'],
          from: '2024-03-01',
          to: '2024-03-02',
          interval: '1h',
          maxParallel: 2,
        }),
      ),
    ).toEqual(job);
  });

  it('refuses an interval that never advances, a range that runs backwards and unknown fields, naming each', () => {
    expect(jobDetails({ ...job, intervalMs: 0 })).toEqual([
      { where: 'intervalMs', problem: expect.stringContaining('does not tile UTC days') },
    ]);
    expect(jobDetails({ ...job, intervalMs: -5 }).map((d) => d.where)).toEqual(['intervalMs']);
    expect(jobDetails({ ...job, to: job.from }).map((d) => d.where)).toEqual(['to']);
    expect(jobDetails({ ...job, from: job.from + 1 }).map((d) => d.where)).toEqual(['from']);
    expect(jobDetails({ ...job, extra: 1 })).toEqual([expect.objectContaining({ where: '(root)' })]);
    expect(jobDetails({ ...job, from: 0, to: Date.UTC(2024, 0, 1) })).toEqual([
      { where: 'to', problem: expect.stringMatching(/intervals is more than 5000/) },
    ]);
    expect(jobDetails(null).length).toBeGreaterThan(0);
  });
});

describe('backfillInstanceId', () => {
  const req = (o: object = {}) =>
    parseBackfillRequest(churnRepo, { views: ['user_clicks'], from: '2024-03-01', to: '2024-03-08', ...o });

  it('is the same for the same request, whatever the spelling or the fan-out', () => {
    const id = backfillInstanceId(churnRepo, req());
    expect(id).toMatch(/^backfill-[0-9a-f]{24}$/);
    expect(backfillInstanceId(churnRepo, req({ from: '2024-03-01T10:00:00Z', maxParallel: 2 }))).toBe(id);
    expect(
      backfillInstanceId(
        churnRepo,
        parseBackfillRequest(churnRepo, {
          views: ['user_clicks', 'user_clicks'],
          from: Date.UTC(2024, 2, 1),
          to: '2024-03-08',
          interval: '1d',
        }),
      ),
    ).toBe(id);
  });

  it('differs for other work: another range, interval or view, or the same request after a definition change', () => {
    const id = backfillInstanceId(churnRepo, req());
    expect(backfillInstanceId(churnRepo, req({ to: '2024-03-09' }))).not.toBe(id);
    expect(backfillInstanceId(churnRepo, req({ interval: '12h' }))).not.toBe(id);
    expect(backfillInstanceId(churnRepo, req({ views: ['user_purchases'] }))).not.toBe(id);
    expect(backfillInstanceId(revisedChurnRepo(), req())).not.toBe(id);
  });
});
