/**
 * Pearson's chi-square test of homogeneity for two samples over the same categories (a 2×K
 * contingency table: the baseline's counts and the window's). Both sides are samples, and a
 * category only one side has (a new category in the window) is still a column with a
 * non-zero expectation, unlike a goodness-of-fit test against fixed baseline shares. The same
 * as scipy.stats.chi2_contingency(table, correction=False). The upper tail of the chi-square
 * distribution is the regularised upper incomplete gamma function from @stdlib, which keeps
 * precision for tiny p-values (1 - cdf would round them to 0).
 */
import gammainc from '@stdlib/math-base-special-gammainc';
import { countTotals } from './inputs';

export interface ChiSquareResult {
  statistic: number;
  /** Degrees of freedom: non-empty columns - 1. */
  dof: number;
  pValue: number;
}

/** P(X >= x) for X ~ chi-square(dof). */
export function chiSquareSurvival(x: number, dof: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, dof / 2, true, true);
}

/** The test on two count vectors of equal length (column i = category i on both sides). */
export function chiSquareHomogeneity(baseline: readonly number[], window: readonly number[]): ChiSquareResult {
  const [nb, nw] = countTotals(baseline, window, 'chiSquareHomogeneity');
  const total = nb + nw;
  let statistic = 0;
  let columns = 0;
  for (let i = 0; i < baseline.length; i++) {
    const col = baseline[i]! + window[i]!;
    if (col === 0) continue;
    columns++;
    const eb = (col * nb) / total;
    const ew = (col * nw) / total;
    statistic += (baseline[i]! - eb) ** 2 / eb + (window[i]! - ew) ** 2 / ew;
  }
  const dof = columns - 1;
  return { statistic, dof, pValue: dof > 0 ? chiSquareSurvival(statistic, dof) : 1 };
}
