/**
 * Small builders for monitoring tests: deterministic sequences that Python can reproduce
 * exactly (for reference values), seeded normal draws, and a baseline computed from values in
 * memory the way training builds one (decile cut points, counts per left-closed bin, a
 * reservoir sample), in training's Baseline type. The real builder is training's
 * computeBaseline; this one makes exact fixtures from values in memory.
 */
import {
  BASELINE_SCHEMA,
  BIN_RULE,
  binIndex,
  computeBaseline,
  type Baseline,
  type CalibrationMap,
  type ColumnBaseline,
} from '../../shared/training/baseline';
import { denseData, denseSource } from '../../shared/training/data';
import { Random } from '../../shared/training/random';
import { mulberry32, sampleRows } from '../../shared/monitoring/window';
import { CHURN_V1 } from './churn-users';

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

/** A numeric column baseline from training values: `bins` quantile bins (distinct cut points above the min). */
export function numericBaseline(
  values: ArrayLike<number>,
  opts: { bins?: number; sampleSize?: number; nullRate?: number; seed?: number; name?: string } = {},
): ColumnBaseline {
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
  for (let i = 0; i < n; i++) {
    counts[binIndex(edges, values[i]!)]!++;
    sum += values[i]!;
  }
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i]! - mean) ** 2;
  const sample = sampleRows(n, opts.sampleSize ?? 10_000, opts.seed ?? 7).map((i) => values[i]!);
  const nullRate = opts.nullRate ?? 0;
  return {
    name: opts.name ?? 'x',
    count: n,
    nullCount: Math.round((n * nullRate) / (1 - nullRate)),
    nullRate,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean,
    std: Math.sqrt(sq / (n - 1)),
    edges,
    counts,
    categories: null,
    categorical: false,
    sample,
  };
}

/** A categorical column baseline: every distinct value with its count. */
export function categoricalBaseline(values: ArrayLike<string | number>, nullRate = 0, name = 'c'): ColumnBaseline {
  const counts = new Map<string | number, number>();
  for (let i = 0; i < values.length; i++) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
  const categories = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([value, count]) => ({ value, count }));
  return {
    name,
    count: values.length,
    nullCount: 0,
    nullRate,
    min: null,
    max: null,
    mean: null,
    std: null,
    edges: [],
    counts: [values.length],
    categories,
    categorical: true,
    sample: [],
  };
}

/** A whole baseline from named columns (the names are set from the keys). */
export function baselineOf(parts: {
  features: Record<string, ColumnBaseline>;
  prediction: ColumnBaseline;
  label?: ColumnBaseline;
  calibration?: CalibrationMap;
}): Baseline {
  const features = Object.entries(parts.features).map(([name, c]) => ({ ...c, name }));
  const label = parts.label ?? { ...parts.prediction, categorical: false };
  return {
    schema: BASELINE_SCHEMA,
    rows: features[0]?.count ?? parts.prediction.count,
    binRule: BIN_RULE,
    features,
    prediction: { ...parts.prediction, name: 'prediction' },
    label: { ...label, name: 'label' },
    sample: { seed: 0, columns: [], rows: [] },
    ...(parts.calibration ? { calibration: parts.calibration } : {}),
  };
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

/** The churn_v1 model inputs, in signature order. */
export const CHURN_REFS = CHURN_V1;

/** A churn model baseline by training's builder: 2,000 rows of small counts, a 30% positive label. */
export async function churnBaseline(): Promise<Baseline> {
  const rng = new Random(4);
  const n = 2_000;
  const x = new Float32Array(n * CHURN_REFS.length).map(() => Math.round(rng.next() * 50));
  const y = Float64Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  return computeBaseline(
    denseSource(denseData(CHURN_REFS, x, y)),
    Float64Array.from({ length: n }, () => rng.next()),
    { categorical: ['label'] },
  );
}
