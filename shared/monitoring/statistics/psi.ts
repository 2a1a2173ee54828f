/**
 * The population stability index over shared bins: sum of (q - p)·ln(q / p) over bins, p the
 * baseline's share and q the window's. A share of 0 is floored at 0.0001 (as Evidently and most
 * PSI implementations do) so an empty bin adds a large but finite term. Works on counts, so
 * the window side only has to count rows per baseline bin (or per category).
 */
import { countTotals } from './inputs';

export const PSI_EMPTY_BIN_SHARE = 1e-4;

export function populationStabilityIndex(baselineCounts: readonly number[], windowCounts: readonly number[]): number {
  const [nb, nw] = countTotals(baselineCounts, windowCounts, 'populationStabilityIndex');
  let psi = 0;
  for (let i = 0; i < baselineCounts.length; i++) {
    const p = Math.max(baselineCounts[i]! / nb, PSI_EMPTY_BIN_SHARE);
    const q = Math.max(windowCounts[i]! / nw, PSI_EMPTY_BIN_SHARE);
    psi += (q - p) * Math.log(q / p);
  }
  return psi;
}
