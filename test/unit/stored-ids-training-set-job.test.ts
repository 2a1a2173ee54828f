/**
 * The training-set job's instance ids (a running job is joined by it) as main wrote them before
 * the job's canonical JSON moved to shared/canonical-json.ts: vectors computed with main's own
 * trainingSetJobId (its copy of canonical JSON in offline/segment-id.ts) when h17b was merged.
 * Frozen beside test/unit/stored-ids.test.ts, which predates the job.
 */
import { describe, expect, it } from 'vitest';
import { trainingSetJobId } from '../../shared/features/pit/training-set-job';
import type { TrainingSetRequest } from '../../shared/features/pit/training-set';

describe('training-set job ids written by main', () => {
  it('an inline spine with labels, a ttl and knownAt (the jobId is not part of the id)', () => {
    const request = {
      spine: {
        rows: [
          { entityId: 'u1', ts: 1722499200000, label: 1 },
          { entityId: 'u2', ts: 1722502800000 },
        ],
      },
      views: [{ view: 'user_clicks', features: ['clicks_1h', 'clicks_24h'], ttlMs: 86400000 }],
      knownAt: 'both',
      jobId: 'x',
    } as TrainingSetRequest;
    expect(trainingSetJobId(request)).toBe('training-set-45f23e3a72a20d5a8f62f2044d0207d9');
  });

  it('a blob spine with a named view version, asOf, an id and full feature names', () => {
    const request = {
      spine: { blobPath: 'spines/churn.parquet' },
      views: [{ view: 'user_purchases', version: 'v2', features: ['spend_7d'] }],
      asOf: 1722600000000,
      id: 'named',
      fullFeatureNames: true,
    } as TrainingSetRequest;
    expect(trainingSetJobId(request)).toBe('training-set-58267489dd6804ef6a58b9c6ad3fa339');
  });
});
