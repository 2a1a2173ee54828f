/**
 * The decisions of the training-set job that need no storage: when a request runs as a job,
 * and which job it is (the same parsed request, the same instance id).
 */
import { describe, expect, it } from 'vitest';
import { runsAsync, trainingSetJobId } from '../../shared/features/pit/training-set-job';
import { trainingSetRequestFromApi } from '../../shared/features/pit/api';
import { featureRepo } from '../../shared/definitions';

const parsed = (body: Record<string, unknown>) =>
  trainingSetRequestFromApi(featureRepo, { features: ['user_clicks:clicks_1h'], ...body });
const rows = (ts: unknown) => ({
  rows: [
    { entity_id: 'u1', ts, label: 1 },
    { entity_id: 'u2', ts, label: 0 },
  ],
});

describe('runsAsync', () => {
  it('runs a spine above the limit as a job, at or below it at once', () => {
    expect(runsAsync(100_001, 100_000, undefined)).toBe(true);
    expect(runsAsync(100_000, 100_000, undefined)).toBe(false);
    expect(runsAsync(Number.POSITIVE_INFINITY, 100_000, undefined)).toBe(true);
  });
  it('does what the client asks, whatever the size', () => {
    expect(runsAsync(1, 100_000, true)).toBe(true);
    expect(runsAsync(10_000_000, 100_000, false)).toBe(false);
    expect(runsAsync(undefined, 100_000, true)).toBe(true);
  });
  it('builds an unreadable blob spine at once, so the build says why', () => {
    expect(runsAsync(undefined, 0, undefined)).toBe(false);
  });
});

describe('trainingSetJobId', () => {
  it('is the same for the same request however its times are written', () => {
    const iso = trainingSetJobId(parsed({ spine: rows('2024-08-01T10:00:00Z'), asOf: '2024-08-02T00:00:00Z' }));
    const ms = trainingSetJobId(
      parsed({ spine: rows(Date.parse('2024-08-01T10:00:00Z')), asOf: Date.parse('2024-08-02T00:00:00Z') }),
    );
    expect(iso).toBe(ms);
    expect(iso).toMatch(/^training-set-[0-9a-f]{32}$/);
  });
  it('differs when anything that shapes the set differs', () => {
    const base = trainingSetJobId(parsed({ spine: rows('2024-08-01T10:00:00Z') }));
    for (const other of [
      parsed({ spine: rows('2024-08-01T10:00:01Z') }),
      parsed({ spine: rows('2024-08-01T10:00:00Z'), id: 'named' }),
      parsed({ spine: rows('2024-08-01T10:00:00Z'), fullFeatureNames: true }),
      parsed({ spine: rows('2024-08-01T10:00:00Z'), features: ['user_clicks:clicks_24h'] }),
      parsed({ spine: { blobPath: 'spines/a.parquet' } }),
    ])
      expect(trainingSetJobId(other)).not.toBe(base);
    expect(trainingSetJobId(parsed({ spine: { blobPath: 'spines/a.parquet' } }))).toBe(
      trainingSetJobId(parsed({ spine: { blobPath: 'spines/a.parquet' } })),
    );
  });
});
