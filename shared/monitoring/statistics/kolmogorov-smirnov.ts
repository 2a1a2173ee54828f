/**
 * The two-sample Kolmogorov–Smirnov test: D = the largest gap between the two empirical CDFs,
 * and its p-value. The p-value is the Kolmogorov distribution's tail at D with
 * n = round(n1·n2 / (n1 + n2)), which is what scipy.stats.ks_2samp(method='asymp') computes
 * (its exact mode, a combinatorial count, has no maintained JavaScript implementation); the
 * distribution itself comes from @stdlib (Marsaglia, Tsang & Wang 2003). Cost grows with n,
 * so callers use it on bounded samples (drift.ts: small windows only).
 */
import pKolmogorov from '@stdlib/stats-kstest/lib/marsaglia.js';
import { ecdfGaps } from './inputs';

export interface KsResult {
  statistic: number;
  pValue: number;
  /** The effective sample size the p-value was read at. */
  n: number;
}

/** D between two samples (ties handled: a value shared by both moves both CDFs before the gap is read). */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return ecdfGaps(a, b, 'ksStatistic').largest;
}

/** The two-sided p-value of D for samples of n1 and n2 values. */
export function ksPValue(d: number, n1: number, n2: number): { pValue: number; n: number } {
  const n = Math.max(1, Math.round((n1 * n2) / (n1 + n2)));
  if (d <= 0) return { pValue: 1, n };
  if (d >= 1) return { pValue: 0, n };
  const p = 1 - pKolmogorov(d, n);
  return { pValue: Math.min(1, Math.max(0, p)), n };
}

export function ksTest(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const statistic = ksStatistic(a, b);
  return { statistic, ...ksPValue(statistic, a.length, b.length) };
}
