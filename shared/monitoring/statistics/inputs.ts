/**
 * The checks every statistic makes of its two inputs, in one place: two samples walked along
 * their empirical CDFs for the CDF-based statistics, two count vectors over the same bins for
 * the count-based ones.
 */

/** What one walk along two samples' empirical CDFs gives the CDF-based statistics. */
export interface EcdfGaps {
  /** The largest |F1 - F2| (Kolmogorov–Smirnov's D). */
  largest: number;
  /** The area between the CDFs (the first Wasserstein distance), in the values' units. */
  area: number;
}

/**
 * Walk both samples' empirical CDFs over their merged distinct values, in order, reading the
 * gap |F1 - F2| just below each value v (constant since the previous value: a rectangle of
 * the area) and at v (a value both samples hold moves both CDFs before the gap is read). Both
 * statistics come from the one walk, with no callback: a callback per value boxed its three
 * doubles, 12 MB a window. Each sample must hold a value.
 */
export function ecdfGaps(a: ArrayLike<number>, b: ArrayLike<number>, statistic: string): EcdfGaps {
  if (a.length === 0 || b.length === 0) throw new RangeError(`${statistic} needs at least one value on each side`);
  const x = ascendingView(a);
  const y = ascendingView(b);
  const n1 = x.length;
  const n2 = y.length;
  let i = 0;
  let j = 0;
  let prev = NaN;
  let largest = 0;
  let area = 0;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && x[i]! <= y[j]!) ? x[i]! : y[j]!;
    const below = Math.abs(i / n1 - j / n2);
    if (below > 0) area += below * (v - prev);
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
    const at = Math.abs(i / n1 - j / n2);
    if (at > largest) largest = at;
    prev = v;
  }
  return { largest, area };
}

/**
 * The values ascending: the input itself when it already is (the walk only reads it; a
 * baseline's sample is stored sorted and a window's comes sorted, and checking costs a twentieth
 * of sorting 10,000 values), else a sorted copy. NaN fails the check (it compares false), so a
 * sample holding one is sorted like any other. `new Float64Array(array)` rather than
 * Float64Array.from, which goes through the iterator and boxed its values (12 MB a window).
 */
function ascendingView(a: ArrayLike<number>): ArrayLike<number> {
  for (let i = 1; i < a.length; i++) if (!(a[i - 1]! <= a[i]!)) return new Float64Array(a).sort();
  return a;
}

/** The totals of two count vectors over the same bins; both must be non-empty. */
export function countTotals(
  baseline: readonly number[],
  window: readonly number[],
  statistic: string,
): [number, number] {
  if (baseline.length !== window.length)
    throw new RangeError(`${statistic}: ${baseline.length} baseline bins vs ${window.length} window bins`);
  const nb = baseline.reduce((s, x) => s + x, 0);
  const nw = window.reduce((s, x) => s + x, 0);
  if (nb === 0 || nw === 0) throw new RangeError(`${statistic} needs counts on both sides`);
  return [nb, nw];
}
