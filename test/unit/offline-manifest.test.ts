import { describe, expect, it } from 'vitest';
import { isConsistent } from '../../shared/features/offline/manifest';
import type { SegmentRecord } from '../../shared/features/offline';

function seg(id: string, state: 'live' | 'superseded', extra: Partial<SegmentRecord> = {}): SegmentRecord {
  return {
    view: 'v',
    version: '1',
    day: '2024-01-01',
    segmentId: id,
    blobPath: `v/1/2024-01-01/${id}.parquet`,
    etag: '"e"',
    sizeBytes: 1,
    rowCount: 1,
    minEventTs: 0,
    maxEventTs: 0,
    minCreatedTs: 0,
    maxCreatedTs: 0,
    minLagMs: 0,
    maxLagMs: 0,
    lineage: { input: { kind: 'job', key: id } },
    committedAt: 0,
    state,
    ...extra,
  };
}
const merged = (
  id: string,
  inputs: string[],
  state: 'live' | 'superseded' = 'live',
  extra: Partial<SegmentRecord> = {},
) => seg(id, state, { lineage: { input: { kind: 'compaction', inputs } }, ...extra });

describe('manifest listings around a compaction', () => {
  it('accepts the set before a compaction', () => {
    expect(isConsistent([seg('a', 'live'), seg('b', 'live')])).toBe(true);
  });

  it('accepts the set after a compaction, with or without its tombstones', () => {
    expect(
      isConsistent([
        seg('a', 'superseded', { supersededBy: 'm' }),
        seg('b', 'superseded', { supersededBy: 'm' }),
        merged('m', ['a', 'b']),
      ]),
    ).toBe(true);
    expect(isConsistent([merged('m', ['a', 'b'])])).toBe(true);
  });

  it('refuses a listing that saw an input live and its compaction too (both sets)', () => {
    expect(
      isConsistent([seg('a', 'live'), seg('b', 'superseded', { supersededBy: 'm' }), merged('m', ['a', 'b'])]),
    ).toBe(false);
  });

  it('refuses a listing that saw inputs replaced but not their replacement (neither set)', () => {
    expect(
      isConsistent([seg('a', 'superseded', { supersededBy: 'm' }), seg('b', 'superseded', { supersededBy: 'm' })]),
    ).toBe(false);
  });

  it('accepts nested compactions seen after both committed', () => {
    expect(
      isConsistent([
        seg('a', 'superseded', { supersededBy: 'm1' }),
        merged('m1', ['a', 'b'], 'superseded', { supersededBy: 'm2' }),
        seg('c', 'superseded', { supersededBy: 'm2' }),
        merged('m2', ['m1', 'c']),
      ]),
    ).toBe(true);
  });
});
