/**
 * Freshness per feature from one age per view: the scan's counts and max over predictions that
 * substituted nothing, the substituted groups added back for the features they did not
 * substitute, and quantiles over the sampled rows that used the feature. Hand-computed.
 */
import { describe, expect, it } from 'vitest';
import { ageColumns, freshnessAggregates, maximaSettled, readFreshness } from '../../shared/monitoring/freshness';

describe('feature freshness', () => {
  // Features v:a and v:b share view v's age; w:c has its own view.
  const ages = ageColumns({ 'v:a': 'age_v', 'v:b': 'age_v', 'w:c': 'age_w' });

  it('features of one view share one age expression and its aggregates', () => {
    expect(ages).toEqual({ exprs: ['age_v', 'age_w'], byFeature: { 'v:a': 0, 'v:b': 0, 'w:c': 1 } });
    const extra = freshnessAggregates(ages);
    expect(Object.keys(extra.aggregates!)).toEqual(['age_n0', 'age_max0', 'age_n1', 'age_max1']);
    expect(freshnessAggregates(ageColumns({}))).toEqual({});
  });

  it('a defaulted or overridden feature leaves out the records of the predictions that substituted it', () => {
    // Clean predictions: v ages 10, 20, 30 (max 30), w ages 5, 5, 5. Substituted ones:
    // 2 that defaulted v:a, whose v records were 100 and 90 old; 1 that overrode w:c (w 50 old, v 40).
    const row = { age_n0: 3, age_max0: 30, age_n1: 3, age_max1: 5 };
    const groups = [
      {
        defaulted: ['v:a'],
        overridden: [],
        rows: 2,
        ages: [
          { count: 2, max: 100 },
          { count: 2, max: 5 },
        ],
      },
      {
        defaulted: [],
        overridden: ['w:c'],
        rows: 1,
        ages: [
          { count: 1, max: 40 },
          { count: 1, max: 50 },
        ],
      },
    ];
    // The sample holds every row (a window no larger than the sample).
    const sample = {
      age_d: ['[]', '[]', '[]', '["v:a"]', '["v:a"]', '[]'],
      age_o: ['[]', '[]', '[]', '[]', '[]', '["w:c"]'],
      age_s0: [10, 20, 30, 100, 90, 40],
      age_s1: [5, 5, 5, 5, 5, 50],
    };
    const f = readFreshness(ages, row, sample, groups);
    // v:a: clean 10, 20, 30 and the override's 40 (the defaulted 100 and 90 left out).
    expect(f['v:a']).toEqual({ count: 4, p50Ms: 25, p95Ms: 38.5, maxMs: 40 });
    // v:b used every v record: 10, 20, 30, 40, 90, 100.
    expect(f['v:b']).toEqual({ count: 6, p50Ms: 35, p95Ms: 97.5, maxMs: 100 });
    // w:c: five records of age 5, not the overridden prediction's 50.
    expect(f['w:c']).toEqual({ count: 5, p50Ms: 5, p95Ms: 5, maxMs: 5 });
  });

  it('a feature no prediction read from the store has no freshness', () => {
    const f = readFreshness(
      ages,
      { age_n0: 0, age_max0: null, age_n1: 1, age_max1: 7 },
      { age_d: ['[]'], age_o: ['[]'], age_s0: [null], age_s1: [7] },
      [],
    );
    expect(f).toEqual({ 'w:c': { count: 1, p50Ms: 7, p95Ms: 7, maxMs: 7 } });
  });

  it("one max per age settles the maxima when each feature's groups carrying its age all substituted it or none did", () => {
    const group = (defaulted: string[], overridden: string[], v: number, w: number) => ({
      defaulted,
      overridden,
      rows: 1,
      ages: [
        { count: v, max: v ? 9 : null },
        { count: w, max: w ? 9 : null },
      ],
    });
    expect(maximaSettled(ages, [])).toBe(true);
    // Only v:a defaulted: every group carrying v's age substituted v:a, none substituted v:b.
    expect(maximaSettled(ages, [group(['v:a'], [], 1, 1)])).toBe(true);
    // v:a defaulted in one group, v:b overridden in another, both carrying v's age.
    expect(maximaSettled(ages, [group(['v:a'], [], 1, 1), group([], ['v:b'], 1, 1)])).toBe(false);
    // The same, but the view was missing where v:a defaulted: that group logged no v age.
    expect(maximaSettled(ages, [group(['v:a'], [], 0, 1), group([], ['v:b'], 1, 1)])).toBe(true);
  });
});
