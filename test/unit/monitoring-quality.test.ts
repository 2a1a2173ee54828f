/**
 * Data quality from the window aggregates (null rate, outside the training range, unknown
 * categories) and output contracts counted per prediction, with hand-computed expectations.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnBaseline } from '../../shared/training/baseline';
import { baselineOf } from '../helpers/monitoring-fixtures';
import { qualityReport } from '../../shared/monitoring/quality';
import {
  compileOutputContract,
  emptyTally,
  mergeTallies,
  OutputContractSchema,
  tallyOutputs,
} from '../../shared/monitoring/output-contract';
import { summarizeValues, type NumericWindowAggregate } from '../../shared/monitoring/window';

const amount: ColumnBaseline = {
  name: 'amount',
  count: 99,
  nullCount: 1,
  nullRate: 0.01,
  min: 0,
  max: 100,
  mean: 50,
  std: 20,
  edges: [25, 50, 75],
  counts: [25, 25, 25, 24],
  categories: null,
  categorical: false,
  sample: [10, 30, 60, 90],
};
const country: ColumnBaseline = {
  name: 'country',
  count: 100,
  nullCount: 0,
  nullRate: 0,
  min: null,
  max: null,
  mean: null,
  std: null,
  edges: [],
  counts: [100],
  categories: [
    { value: 'DE', count: 60 },
    { value: 'FR', count: 40 },
  ],
  categorical: true,
  sample: [],
};
const baseline = baselineOf({
  features: { amount, country },
  prediction: { ...amount, min: 0, max: 1, edges: [0.5], counts: [50, 50] },
});

describe('data quality per window and feature', () => {
  it('counts nulls (null, undefined, NaN), values outside the training range and unknown categories', () => {
    const w = {
      rows: 10,
      features: {
        amount: summarizeValues(amount, [null, 5, 50, 100, 101, -1, NaN, 75, undefined, 100.5]),
        country: summarizeValues(country, ['DE', 'FR', 'IT', 'IT', 'ES', null, 'DE', 'DE', 'IT', 'FR']),
      },
    };
    const r = qualityReport(baseline, w);
    expect(r.features[0]).toEqual({
      feature: 'amount',
      rows: 10,
      nulls: 3,
      nullRate: 0.3,
      baselineNullRate: 0.01,
      outOfRange: { below: 1, above: 2, share: 3 / 7 },
    });
    expect(r.features[1]).toEqual({
      feature: 'country',
      rows: 10,
      nulls: 1,
      nullRate: 0.1,
      baselineNullRate: 0,
      unknownCategories: {
        count: 4,
        share: 4 / 9,
        top: [
          { value: 'IT', count: 3 },
          { value: 'ES', count: 1 },
        ],
      },
    });
  });

  it('puts values exactly on an edge in the bin above it (left-closed bins, as training cuts them)', () => {
    const w = summarizeValues(amount, [0, 24.999, 25, 50, 74.9, 75, 100]) as NumericWindowAggregate;
    expect(w.binCounts).toEqual([2, 1, 2, 2]);
    expect(w).toMatchObject({ belowRange: 0, aboveRange: 0, nulls: 0 });
  });

  it('an empty window has rates of 0, not NaN', () => {
    const r = qualityReport(baseline, { rows: 0, features: { amount: summarizeValues(amount, []) } });
    expect(r.features[0]).toMatchObject({ nullRate: 0, outOfRange: { below: 0, above: 0, share: 0 } });
  });
});

describe('output contracts', () => {
  it('a probability vector: shape [2], range [0, 1], sums to 1; each prediction counts once, by the first rule it breaks', () => {
    const check = compileOutputContract(
      OutputContractSchema.parse({ shape: [2], range: { min: 0, max: 1 }, sum: { equals: 1 } }),
    );
    const outputs = [
      [0.2, 0.8],
      [0.5, 0.5],
      [0.3, 0.3],
      [1.2, -0.2],
      [0.5],
      0.5,
      [NaN, 1],
      [0.4, 0.6000001],
      ['a', 'b'],
    ];
    expect(outputs.map(check)).toEqual([
      undefined,
      undefined,
      'sum',
      'range',
      'shape',
      'shape',
      'not_finite',
      undefined,
      'shape',
    ]);
    const t = tallyOutputs(check, outputs);
    expect(t).toEqual({
      checked: 9,
      violating: 6,
      violations: { shape: 3, not_finite: 1, range: 1, class: 0, sum: 1 },
    });
  });

  it('a classifier label: scalar from a closed set; a regression value: scalar within a range', () => {
    const label = compileOutputContract(OutputContractSchema.parse({ shape: [], classes: [0, 1, 2] }));
    expect([0, 2, 3, 1.5, [1], Infinity].map(label)).toEqual([
      undefined,
      undefined,
      'class',
      'class',
      'shape',
      'not_finite',
    ]);
    const spend = compileOutputContract(OutputContractSchema.parse({ range: { min: 0 } }));
    expect([0, 1e9, -0.01, null].map(spend)).toEqual([undefined, undefined, 'range', 'shape']);
  });

  it('tallies from two instances merge by addition', () => {
    const check = compileOutputContract(OutputContractSchema.parse({ range: { max: 1 } }));
    const a = tallyOutputs(check, [0.5, 2]);
    const b = tallyOutputs(check, [3, 4, 0]);
    expect(mergeTallies(a, b)).toEqual({
      checked: 5,
      violating: 3,
      violations: { ...emptyTally().violations, range: 3 },
    });
  });

  it('a contract that cannot hold is refused with the reason', () => {
    expect(() => OutputContractSchema.parse({ range: { min: 2, max: 1 } })).toThrow(
      /min \(2\) is greater than max \(1\)/,
    );
    expect(() => OutputContractSchema.parse({ shape: [], sum: { equals: 1 } })).toThrow(
      /single-number output has no sum/,
    );
    expect(() => OutputContractSchema.parse({ shape: [0] })).toThrow();
  });
});
