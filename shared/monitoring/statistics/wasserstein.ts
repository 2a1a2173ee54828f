/**
 * The first Wasserstein (earth mover's) distance between two samples: the area between their
 * empirical CDFs, in the feature's own units. Monitoring divides it by the baseline's standard
 * deviation so one threshold fits every feature. Same as scipy.stats.wasserstein_distance.
 */
import { ecdfGaps } from './inputs';

export function wassersteinDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  // Between consecutive values both CDFs are constant: the area is a sum of rectangles.
  return ecdfGaps(a, b, 'wassersteinDistance').area;
}

/**
 * The distance in baseline standard deviations. A constant baseline feature (std 0) is divided
 * by 0.001 instead, as Evidently does, so any movement of it counts as large.
 */
export function normalizedWasserstein(a: ArrayLike<number>, b: ArrayLike<number>, baselineStd: number): number {
  return wassersteinDistance(a, b) / Math.max(baselineStd, 0.001);
}
