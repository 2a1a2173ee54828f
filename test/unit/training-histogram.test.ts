import { describe, expect, it } from 'vitest';
import {
  allocateKernelData,
  histogramLength,
  SerialKernels,
  subtractHistogram,
  type KernelData,
} from '../../shared/training/gbdt/histogram';
import { createKernels, MIN_PARALLEL_ROWS } from '../../shared/training/gbdt/parallel';
import { Random } from '../../shared/training/random';
import { rowStride } from '../../shared/training/bins';

const F = 6;
const stride = rowStride(F);

function setup(n: number, seed: number): KernelData {
  const rng = new Random(seed);
  const bins = new Uint8Array(new SharedArrayBuffer(n * stride));
  for (let r = 0; r < n; r++) for (let f = 0; f < F; f++) bins[r * stride + f] = rng.int(f + 3 === 8 ? 256 : 40); // one feature uses all 256 bins
  const d = allocateKernelData(true, bins, stride, new Float64Array(n), n);
  for (let r = 0; r < n; r++) {
    d.gh[2 * r] = rng.next() - 0.5;
    d.gh[2 * r + 1] = rng.next();
    d.rows[r] = r;
  }
  return d;
}

/** Per feature and bin, the sums by definition. */
function naive(d: KernelData, rows: ArrayLike<number>): Float64Array {
  const h = new Float64Array(histogramLength(stride));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    for (let f = 0; f < stride; f++) {
      const b = d.bins[r * stride + f]!;
      h[f * 512 + 2 * b]! += d.gh[2 * r]!;
      h[f * 512 + 2 * b + 1]! += d.gh[2 * r + 1]!;
    }
  }
  return h;
}

const close = (a: Float64Array, b: Float64Array) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-9);

describe('histogram kernels', () => {
  it("the root histogram holds every row's gradient and hessian in its bin, per feature", () => {
    const d = setup(5_000, 1);
    const h = new Float64Array(histogramLength(stride));
    new SerialKernels(d).rootHistogram(h, 5_000);
    expect(close(h, naive(d, d.rows))).toBe(true);
  });

  it("a split is a stable partition, and its histogram is the chosen side's rows", () => {
    const d = setup(5_000, 2);
    const goLeft = new Uint8Array(256).map((_, b) => (b === 0 || b <= 17 ? 1 : 0));
    const before = Array.from(d.rows);
    const h = new Float64Array(histogramLength(stride));
    const k = new SerialKernels(d);
    const mid = k.split(0, 5_000, 2, goLeft, h, 0);
    const left = before.filter((r) => goLeft[d.bins[r * stride + 2]!] === 1);
    const right = before.filter((r) => goLeft[d.bins[r * stride + 2]!] === 0);
    expect(mid).toBe(left.length);
    expect(Array.from(d.rows)).toEqual([...left, ...right]);
    expect(close(h, naive(d, right))).toBe(true);
    // The sibling trick: parent - right = left.
    const parent = naive(d, before);
    subtractHistogram(parent, h);
    expect(close(parent, naive(d, left))).toBe(true);
  });

  it('on helper threads give the same partition and the same sums', () => {
    const n = MIN_PARALLEL_ROWS * 3;
    const a = setup(n, 3);
    const b = setup(n, 3);
    const serial = new SerialKernels(a);
    const parallel = createKernels(b, 2, histogramLength(stride));
    try {
      const ha = new Float64Array(histogramLength(stride));
      const hb = new Float64Array(histogramLength(stride));
      parallel.rootHistogram(hb, n);
      serial.rootHistogram(ha, n);
      expect(close(ha, hb)).toBe(true);
      const goLeft = new Uint8Array(256).map((_, bin) => (bin >= 1 && bin <= 9 ? 1 : 0));
      const ma = serial.split(0, n, 4, goLeft, ha, 1);
      const mb = parallel.split(0, n, 4, goLeft, hb, 1);
      expect(mb).toBe(ma);
      expect(Buffer.from(b.rows.buffer).equals(Buffer.from(a.rows.buffer))).toBe(true);
      expect(close(ha, hb)).toBe(true);
      a.margins.fill(0.3);
      b.margins.fill(0.3);
      serial.gradients(n);
      parallel.gradients(n);
      expect(Buffer.from(b.gh.buffer).equals(Buffer.from(a.gh.buffer))).toBe(true);
    } finally {
      parallel.close();
    }
  });
});
