/**
 * Small builders for monitoring tests: deterministic sequences that Python can reproduce
 * exactly (for reference values), seeded normal draws, and a baseline computed from values in
 * memory the way training builds one (decile cut points, counts per left-closed bin, a
 * reservoir sample). The real builder lives in training; this one is only for fixtures.
 */
import { binIndex, type CategoricalFeatureBaseline, type NumericFeatureBaseline } from '../../shared/monitoring/baseline';
import { mulberry32, sampleRows } from '../../shared/monitoring/window';

/** (i·φ) mod 1 for i = start .. start+n-1, mapped by f; Python's `(i * PHI) % 1.0` gives the same doubles. */
export function golden(n: number, start: number, f: (x: number) => number = (x) => x): number[] {
  const PHI = 0.6180339887498949;
  return Array.from({ length: n }, (_, i) => f(((i + start) * PHI) % 1));
}

/** A seeded standard-normal generator (Box–Muller over mulberry32). */
export function normals(seed: number): () => number {
  const u = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export function draw(n: number, next: () => number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out;
}

/** A numeric baseline from training values: `bins` quantile bins (distinct cut points above the min). */
export function numericBaseline(values: ArrayLike<number>, opts: { bins?: number; sampleSize?: number; nullRate?: number; seed?: number } = {}): NumericFeatureBaseline {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  const bins = opts.bins ?? 10;
  const edges: number[] = [];
  for (let k = 1; k < bins; k++) {
    const v = sorted[Math.floor((k * n) / bins)]!;
    if (v > sorted[0]! && (edges.length === 0 || v > edges[edges.length - 1]!)) edges.push(v);
  }
  const counts = new Array<number>(edges.length + 1).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) { counts[binIndex(edges, values[i]!)]!++; sum += values[i]!; }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i]! - mean) ** 2;
  const sample = sampleRows(n, opts.sampleSize ?? 10_000, opts.seed ?? 7).map((i) => values[i]!);
  return { kind: 'numeric', nullRate: opts.nullRate ?? 0, min: sorted[0]!, max: sorted[n - 1]!, mean, std: Math.sqrt(sq / (n - 1)), bins: { edges, counts }, sample };
}

export function categoricalBaseline(values: ArrayLike<string>, nullRate = 0): CategoricalFeatureBaseline {
  const categories: Record<string, number> = {};
  for (let i = 0; i < values.length; i++) categories[values[i]!] = (categories[values[i]!] ?? 0) + 1;
  return { kind: 'categorical', nullRate, categories, otherCount: 0 };
}

/** Draw categories with the given shares (seeded). */
export function categories(n: number, shares: Record<string, number>, seed: number): string[] {
  const u = mulberry32(seed);
  const names = Object.keys(shares);
  const cum: number[] = [];
  let acc = 0;
  for (const k of names) cum.push((acc += shares[k]!));
  return Array.from({ length: n }, () => {
    const x = u() * acc;
    return names[cum.findIndex((c) => x < c)] ?? names[names.length - 1]!;
  });
}
