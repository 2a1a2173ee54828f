/**
 * The Jensen–Shannon distance between two distributions given as counts over the same
 * categories: the square root of the mean KL divergence of each to their midpoint, in nats
 * (between 0 and sqrt(ln 2) ≈ 0.833). Same as scipy.spatial.distance.jensenshannon (natural
 * log), which Evidently's 0.1 threshold is stated in. Symmetric and finite even when a
 * category exists on one side only.
 */
import { countTotals } from './inputs';

export function jensenShannonDistance(baselineCounts: readonly number[], windowCounts: readonly number[]): number {
  const [nb, nw] = countTotals(baselineCounts, windowCounts, 'jensenShannonDistance');
  let divergence = 0;
  for (let i = 0; i < baselineCounts.length; i++) {
    const p = baselineCounts[i]! / nb;
    const q = windowCounts[i]! / nw;
    const m = (p + q) / 2;
    if (p > 0) divergence += p * Math.log(p / m);
    if (q > 0) divergence += q * Math.log(q / m);
  }
  return Math.sqrt(Math.max(0, divergence / 2));
}
