/**
 * The first Wasserstein (earth mover's) distance between two samples: the area between their
 * empirical CDFs, in the feature's own units. Monitoring divides it by the baseline's standard
 * deviation so one threshold fits every feature. Same as scipy.stats.wasserstein_distance.
 */

export function wassersteinDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('wassersteinDistance needs at least one value on each side');
  // Walk the merged values; between consecutive ones both CDFs are constant.
  let i = 0;
  let j = 0;
  let prev = Math.min(x[0]!, y[0]!);
  let area = 0;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && x[i]! <= y[j]!) ? x[i]! : y[j]!;
    area += Math.abs(i / n1 - j / n2) * (v - prev);
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
    prev = v;
  }
  return area;
}

/**
 * The distance in baseline standard deviations. A constant baseline feature (std 0) is divided
 * by 0.001 instead, as Evidently does, so any movement of it counts as large.
 */
export function normalizedWasserstein(a: ArrayLike<number>, b: ArrayLike<number>, baselineStd: number): number {
  return wassersteinDistance(a, b) / Math.max(baselineStd, 0.001);
}
