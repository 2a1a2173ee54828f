/**
 * Every drift statistic against published reference values. The references were computed
 * once with Debian's python3-scipy 1.10.1 (/usr/bin/python3) on the same inputs:
 *
 *   PHI = 0.6180339887498949; g = lambda i: (i * PHI) % 1.0        # = golden() in the fixtures
 *   stats.ks_2samp(a, b, method='asymp')                           # statistic, pvalue
 *   stats.wasserstein_distance(a, b)
 *   stats.chi2_contingency(np.array([a, b])[:, nonzero columns], correction=False)
 *   scipy.spatial.distance.jensenshannon(a / a.sum(), b / b.sum())  # natural log
 *   psi = sum((q - p) * log(q / p)) with p, q = max(share, 1e-4)    # numpy, no scipy function
 *   stats.chi2.sf(x, dof)
 *
 * scipy's KS p-value here is its asymptotic mode (the Kolmogorov distribution at
 * n = round(n1·n2/(n1+n2))), the one monitoring uses; it agrees to 1e-6 where Marsaglia's
 * algorithm is exact, and to 3% (relative) in the far tail where @stdlib switches to an approximation.
 */
import { describe, expect, it } from 'vitest';
import {
  chiSquareHomogeneity,
  chiSquareSurvival,
  jensenShannonDistance,
  ksTest,
  normalizedWasserstein,
  populationStabilityIndex,
  wassersteinDistance,
} from '../../shared/monitoring/statistics';
import { golden } from '../helpers/monitoring-fixtures';

const samples: Record<string, [number[], number[]]> = {
  u40_sq30: [golden(40, 1), golden(30, 101, (x) => x * x)],
  u200_scaled300: [golden(200, 1), golden(300, 1000, (x) => x * 1.1 - 0.05)],
  u500_shift500: [golden(500, 1), golden(500, 5000, (x) => x + 0.1)],
  ties_int60_80: [golden(60, 1, (x) => Math.trunc(x * 5)), golden(80, 300, (x) => Math.trunc(x * x * 5))],
  same_800_900: [golden(800, 1), golden(900, 20000)],
  u300_shift400: [golden(300, 1), golden(400, 7000, (x) => x + 0.2)],
};

// [D, p-value, Wasserstein] from scipy.
const scipyKs: Record<string, [number, number, number]> = {
  u40_sq30: [0.3, 0.0747594901851486, 0.18133445206901525],
  u200_scaled300: [0.05333333333333334, 0.8661515000141586, 0.026590673169349502],
  u500_shift500: [0.10200000000000009, 0.010208977024219837, 0.0999097607246171],
  ties_int60_80: [0.2625, 0.014796616700587628, 0.7749999999999999],
  same_800_900: [0.0033333333333334103, 1.0, 0.0008195327519792701],
  u300_shift400: [0.20750000000000002, 6.179749984018623e-7, 0.19992003134249933],
};

describe('two-sample Kolmogorov–Smirnov', () => {
  for (const [name, [a, b]] of Object.entries(samples)) {
    it(`matches scipy on ${name}`, () => {
      const [d, p] = scipyKs[name]!;
      const r = ksTest(a, b);
      expect(r.statistic).toBeCloseTo(d, 12);
      expect(r.n).toBe(Math.round((a.length * b.length) / (a.length + b.length)));
      const tol = p < 1e-3 ? 3e-2 : 1e-6; // @stdlib's tail approximation (below ~1e-3): 2% off at p = 6e-7
      expect(Math.abs(r.pValue - p)).toBeLessThanOrEqual(tol * Math.max(p, 1e-12) + 1e-12);
    });
  }

  it('D by hand: {1,2,3} vs {2,3,4,5} (a tie moves both CDFs)', () => {
    // At 1: 1/3 - 0; at 2: 2/3 - 1/4 = 5/12; at 3: 1 - 2/4 = 1/2; then 0.
    expect(ksTest([1, 2, 3], [2, 3, 4, 5]).statistic).toBeCloseTo(0.5, 15);
    expect(ksTest([1, 2, 3], [3, 2, 1]).statistic).toBe(0);
    expect(ksTest([1, 2, 3], [3, 2, 1]).pValue).toBe(1);
  });
});

describe('Wasserstein distance', () => {
  for (const [name, [a, b]] of Object.entries(samples)) {
    it(`matches scipy on ${name}`, () => {
      expect(wassersteinDistance(a, b)).toBeCloseTo(scipyKs[name]![2], 12);
    });
  }

  it('is the shift between a sample and itself moved by c, and scales by the baseline std', () => {
    const a = [0, 1, 2, 3];
    expect(
      wassersteinDistance(
        a,
        a.map((x) => x + 0.5),
      ),
    ).toBeCloseTo(0.5, 15);
    expect(
      normalizedWasserstein(
        a,
        a.map((x) => x + 0.5),
        2,
      ),
    ).toBeCloseTo(0.25, 15);
    // A constant baseline divides by 0.001.
    expect(normalizedWasserstein([1, 1], [1.001, 1.001], 0)).toBeCloseTo(1, 9);
  });
});

// [statistic, dof, p, JS distance, PSI] from scipy / numpy.
const tables: Record<string, [number[], number[], [number, number, number, number, number]]> = {
  two_by_three: [
    [30, 50, 20],
    [25, 40, 35],
    [5.656565656565656, 2, 0.05911427592751336, 0.1194966220743736, 0.11537280116143206],
  ],
  new_category: [
    [500, 300, 200, 0],
    [40, 30, 20, 10],
    [101.85185185185188, 3, 6.212677391174756e-22, 0.19349646201204068, 0.7123991075017365],
  ],
  same_shares: [
    [400, 300, 300],
    [40, 30, 30],
    [0, 2, 1, 0, 0],
  ],
  big_shift: [
    [5000, 3000, 2000],
    [100, 300, 600],
    [929.1101055806937, 2, 1.76320996999663e-202, 0.3536956401831198, 1.083220080440884],
  ],
  two_by_two: [
    [90, 10],
    [70, 30],
    [12.5, 1, 0.00040695201744495946, 0.1800799428448848, 0.2699853433898032],
  ],
};

describe('chi-square homogeneity, Jensen–Shannon and PSI on counts', () => {
  for (const [name, [a, b, [chi2, dof, p, js, psi]]] of Object.entries(tables)) {
    it(`match scipy / numpy on ${name}`, () => {
      const r = chiSquareHomogeneity(a, b);
      expect(r.statistic).toBeCloseTo(chi2, 9);
      expect(r.dof).toBe(dof);
      expect(Math.abs(r.pValue - p)).toBeLessThanOrEqual(1e-9 * p + 1e-300);
      expect(jensenShannonDistance(a, b)).toBeCloseTo(js, 12);
      expect(populationStabilityIndex(a, b)).toBeCloseTo(psi, 12);
    });
  }

  it('chi-square upper tail matches scipy.stats.chi2.sf, including far tails', () => {
    const cases: Array<[number, number, number]> = [
      [20, 10, 0.029252688076961124],
      [100, 20, 1.2596084591660847e-12],
      [3.84, 1, 0.05004352124870519],
      [500, 9, 5.7494139030446954e-102],
    ];
    for (const [x, k, p] of cases) expect(Math.abs(chiSquareSurvival(x, k) - p)).toBeLessThanOrEqual(1e-9 * p);
  });

  it('PSI by hand, with the empty-bin floor', () => {
    // p = (0.5, 0.5), q = (0.25, 0.75): 2 terms of (q - p) ln(q/p).
    expect(populationStabilityIndex([50, 50], [25, 75])).toBeCloseTo(-0.25 * Math.log(0.5) + 0.25 * Math.log(1.5), 15);
    // An empty baseline bin counts as a share of 1e-4.
    expect(populationStabilityIndex([100, 0], [50, 50])).toBeCloseTo(
      (0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4),
      12,
    );
  });

  it('Jensen–Shannon distance is at most sqrt(ln 2), reached by disjoint distributions', () => {
    expect(jensenShannonDistance([10, 0], [0, 10])).toBeCloseTo(Math.sqrt(Math.log(2)), 15);
  });
});
