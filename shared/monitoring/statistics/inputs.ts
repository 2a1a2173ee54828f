/**
 * The checks every statistic makes of its two inputs, in one place: two samples walked along
 * their empirical CDFs for the CDF-based statistics, two count vectors over the same bins for
 * the count-based ones.
 */

/**
 * Walk both samples' empirical CDFs over their merged distinct values, in order: `step` gets
 * each value v with |F1 - F2| just below v and at v (a value both samples hold moves both CDFs
 * before the gap at v is read). Each sample must hold a value.
 */
export function walkEcdfs(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  statistic: string,
  step: (v: number, gapBelow: number, gapAt: number) => void,
): void {
  if (a.length === 0 || b.length === 0) throw new RangeError(`${statistic} needs at least one value on each side`);
  const x = sortedCopy(a);
  const y = sortedCopy(b);
  const n1 = x.length;
  const n2 = y.length;
  let i = 0;
  let j = 0;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && x[i]! <= y[j]!) ? x[i]! : y[j]!;
    const below = Math.abs(i / n1 - j / n2);
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
    step(v, below, Math.abs(i / n1 - j / n2));
  }
}

/**
 * The values ascending, sorted only when they are not already: a baseline's sample is stored
 * sorted, and checking costs a twentieth of sorting 10,000 values. NaN fails the check (it
 * compares false), so a sample holding one is sorted like any other.
 */
function sortedCopy(a: ArrayLike<number>): Float64Array {
  const x = Float64Array.from(a);
  for (let i = 1; i < x.length; i++) if (!(x[i - 1]! <= x[i]!)) return x.sort();
  return x;
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
