import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../shared/errors';
import { parseTrainingSetRequest } from '../../shared/features/pit';

const t = (iso: string) => Date.parse(iso);

describe('training set requests at the edge', () => {
  it('parses an HTTP body: ISO or epoch times, labels, and says what is wrong', () => {
    expect(
      parseTrainingSetRequest({
        spine: {
          rows: [
            { entity_id: 'u1', ts: '2024-08-01T09:00:00Z', label: 1 },
            { entity_id: 7, ts: 1722502800000 },
          ],
        },
        views: [{ view: 'activity', features: ['clicks'], ttlMs: 1000 }],
        asOf: '2024-08-02T00:00:00Z',
        knownAt: 'both',
      }),
    ).toEqual({
      spine: {
        rows: [
          { entityId: 'u1', ts: t('2024-08-01T09:00:00Z'), label: 1 },
          { entityId: '7', ts: 1722502800000 },
        ],
      },
      views: [{ view: 'activity', features: ['clicks'], ttlMs: 1000 }],
      asOf: t('2024-08-02T00:00:00Z'),
      knownAt: 'both',
    });
    const err = (() => {
      try {
        parseTrainingSetRequest({
          spine: { rows: [{ entity_id: 'u1', ts: 'yesterday' }] },
          views: [],
          knownAt: 'asOf',
        });
      } catch (e) {
        return e as ValidationError;
      }
    })();
    expect(err!.details.map((d) => d.where).sort()).toEqual(['asOf', 'spine.rows[0].ts', 'views'].sort());
  });

  it('takes a spine blob path, and refuses both or neither', () => {
    expect(
      parseTrainingSetRequest({ spine: { blobPath: 'spines/a/b.parquet' }, views: [{ view: 'v', features: ['f'] }] })
        .spine,
    ).toEqual({ blobPath: 'spines/a/b.parquet' });
    for (const spine of [{}, { blobPath: 'spines/a.parquet', rows: [] }]) {
      expect(() => parseTrainingSetRequest({ spine, views: [{ view: 'v', features: ['f'] }] })).toThrow(
        ValidationError,
      );
    }
    expect(() =>
      parseTrainingSetRequest({ spine: { blobPath: 'spines/a.txt' }, views: [{ view: 'v', features: ['f'] }] }),
    ).toThrow(/invalid training set request/);
  });
});
