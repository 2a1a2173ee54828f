/**
 * Synthetic training sets with a known signal, and a FitContext for calling trainers
 * directly. Every set is generated from a seed, so a test's data is the same on every run.
 */
import { Random } from '../../shared/training/random';
import type { FitContext } from '../../shared/training/trainer';
import type { Task } from '../../shared/training/data';
import type { InlineRef } from '../../shared/training/fit';

export interface SyntheticSet {
  features: string[];
  x: Float32Array;
  y: Float64Array;
  n: number;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function build(
  n: number,
  F: number,
  seed: number,
  row: (rng: Random, x: Float32Array, base: number) => number,
): SyntheticSet {
  const rng = new Random(seed);
  const x = new Float32Array(n * F);
  const y = new Float64Array(n);
  for (let r = 0; r < n; r++) y[r] = row(rng, x, r * F);
  return { features: Array.from({ length: F }, (_, i) => `f${i}`), x, y, n };
}

/** Binary labels from logit = bias + Σ w_j (x_j · scale_j + shift_j), x_j ~ N(0, 1) before scaling. */
export function linearSet(
  n: number,
  weights: number[],
  seed: number,
  o: { bias?: number; scale?: number[]; shift?: number[] } = {},
): SyntheticSet {
  const F = weights.length;
  return build(n, F, seed, (rng, x, base) => {
    let z = o.bias ?? 0;
    for (let j = 0; j < F; j++) {
      const v = rng.normal() * (o.scale?.[j] ?? 1) + (o.shift?.[j] ?? 0);
      x[base + j] = v;
      z += weights[j]! * Math.fround(v);
    }
    return rng.next() < sigmoid(z) ? 1 : 0;
  });
}

/** XOR-like: p(1) = 0.9 when x0·x1 > 0, else 0.1; x0, x1 uniform on (-1, 1); plus `noise` useless features. */
export function xorSet(n: number, seed: number, noise = 3): SyntheticSet {
  return build(n, 2 + noise, seed, (rng, x, base) => {
    for (let j = 0; j < 2 + noise; j++) x[base + j] = rng.next() * 2 - 1;
    return rng.next() < (x[base]! * x[base + 1]! > 0 ? 0.9 : 0.1) ? 1 : 0;
  });
}

/** Regression: y = 2 sin(2 x0) + x1² + 0.1 N(0, 1), x ~ U(-2, 2), plus `noise` useless features. */
export function regressionSet(n: number, seed: number, noise = 2): SyntheticSet {
  return build(n, 2 + noise, seed, (rng, x, base) => {
    for (let j = 0; j < 2 + noise; j++) x[base + j] = rng.next() * 4 - 2;
    return 2 * Math.sin(2 * x[base]!) + x[base + 1]! ** 2 + 0.1 * rng.normal();
  });
}

/** Set a share of one feature's values to NaN (missing), chosen from the seed. */
export function withMissing(set: SyntheticSet, feature: number, share: number, seed: number): SyntheticSet {
  const rng = new Random(seed).fork('missing');
  const x = set.x.slice();
  const F = set.features.length;
  for (let r = 0; r < set.n; r++) if (rng.next() < share) x[r * F + feature] = Number.NaN;
  return { ...set, x };
}

/** Rows [from, to) of a set. */
export function rowsOf(set: SyntheticSet, from: number, to: number): SyntheticSet {
  const F = set.features.length;
  return { features: set.features, x: set.x.slice(from * F, to * F), y: set.y.slice(from, to), n: to - from };
}

export function inline(set: SyntheticSet): InlineRef {
  return { kind: 'inline', features: set.features, x: set.x, y: set.y };
}

/** A FitContext for calling a trainer directly; progress reports are collected. */
export function fitContext(
  task: Task,
  seed = 1,
  threads = 1,
): FitContext & { reports: Array<{ done: number; total: number; unit: string }> } {
  const root = new Random(seed);
  const reports: Array<{ done: number; total: number; unit: string }> = [];
  return {
    task,
    seed,
    threads,
    random: (l) => root.fork(l),
    progress: (p) => reports.push({ done: p.done, total: p.total, unit: p.unit }),
    reports,
  };
}

/** The largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`${a.length} values against ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}
