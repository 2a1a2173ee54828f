/**
 * The two inner loops of histogram boosting, over a node's rows: the gradient histogram
 * (per feature and bin, the sums of gradients and hessians) and the split of a node's rows
 * into its children. Layout: 512 float64 per feature (256 bins × [g, h]), so a cell's slot
 * comes from its byte without a table lookup, and a histogram of 20 features (80 KB) stays
 * in L2 while rows stream through.
 *
 * Rows are row-major bytes padded to a multiple of 4 features, read one 32-bit word (four
 * cells) at a time (little-endian, as every platform Node runs on here): one load, four
 * shifts, eight float adds. A row's gradient and hessian are interleaved float32; sums are
 * float64, so subtracting a child from its parent (the sibling trick) loses nothing.
 *
 * Splitting a node and building the histogram of one child are one pass: the partition has
 * to load each row's cache line anyway, and at deeper levels (rows scattered over the whole
 * array) that load is most of the cost. The partition is stable (rows stay ascending) and
 * writes each row to both outputs, advancing one cursor (no unpredictable branch); only the
 * histogram add is behind a branch, which is cheap next to the 20 features it adds.
 */

export const HIST_PER_FEATURE = 512;

export const histogramLength = (stride: number): number => stride * HIST_PER_FEATURE;

/**
 * Everything the kernels read and write, over SharedArrayBuffers so helper threads see the
 * same memory: bins, per-row gradient/hessian pairs, labels and margins of the fit rows,
 * and the node row lists (rows, plus scratch for partitioning).
 */
export interface KernelData {
  binary: boolean;
  bins: Uint8Array;
  bins32: Uint32Array;
  stride: number;
  gh: Float32Array;
  y: Float64Array;
  margins: Float64Array;
  rows: Uint32Array;
  scratch: Uint32Array;
}

/** Allocate the shared buffers for `nFit` rows (bins must already be in a SharedArrayBuffer). */
export function allocateKernelData(
  binary: boolean,
  bins: Uint8Array,
  stride: number,
  y: Float64Array,
  nFit: number,
): KernelData {
  const shared = <T>(make: (b: SharedArrayBuffer) => T, bytes: number) =>
    make(new SharedArrayBuffer(Math.max(8, bytes)));
  // Labels already in shared memory are used as they are; others are copied once.
  const ys =
    y.buffer instanceof SharedArrayBuffer ? y.subarray(0, nFit) : shared((b) => new Float64Array(b, 0, nFit), nFit * 8);
  if (ys.buffer !== y.buffer) ys.set(y.subarray(0, nFit));
  return {
    binary,
    bins,
    bins32: new Uint32Array(bins.buffer, bins.byteOffset, bins.byteLength >>> 2),
    stride,
    gh: shared((b) => new Float32Array(b, 0, 2 * nFit), nFit * 8),
    y: ys,
    margins: shared((b) => new Float64Array(b, 0, nFit), nFit * 8),
    rows: shared((b) => new Uint32Array(b, 0, nFit), nFit * 4),
    scratch: shared((b) => new Uint32Array(b, 0, nFit), nFit * 4),
  };
}

/** Gradient and hessian of the loss at the current margins, rows [from, to). */
export function gradientRows(d: KernelData, from: number, to: number): void {
  const { gh, y, margins } = d;
  if (d.binary) {
    for (let r = from; r < to; r++) {
      const p = 1 / (1 + Math.exp(-margins[r]!));
      gh[2 * r] = p - y[r]!;
      gh[2 * r + 1] = Math.max(p * (1 - p), 1e-16);
    }
  } else {
    for (let r = from; r < to; r++) {
      gh[2 * r] = margins[r]! - y[r]!;
      gh[2 * r + 1] = 1;
    }
  }
}

/** Add one row (its W words of bins from q) with gradient g and hessian h. Small enough for V8 to inline. */
function addRow(hist: Float64Array, bins32: Uint32Array, q: number, W: number, g: number, h: number): void {
  for (let w = 0, o = 0; w < W; w++, o += 2048) {
    const word = bins32[q++]!;
    const k0 = o + ((word & 255) << 1);
    const k1 = o + 512 + ((word >>> 7) & 510);
    const k2 = o + 1024 + ((word >>> 15) & 510);
    const k3 = o + 1536 + ((word >>> 23) & 510);
    hist[k0]! += g;
    hist[k0 + 1]! += h;
    hist[k1]! += g;
    hist[k1 + 1]! += h;
    hist[k2]! += g;
    hist[k2 + 1]! += h;
    hist[k3]! += g;
    hist[k3 + 1]! += h;
  }
}

/** hist += sums over rows[begin..end). */
export function accumulateRows(d: KernelData, hist: Float64Array, begin: number, end: number): void {
  const { bins32, gh, rows } = d;
  const W = d.stride >>> 2;
  for (let i = begin; i < end; i++) {
    const r = rows[i]!;
    const g = gh[2 * r]!;
    const h = gh[2 * r + 1]!;
    addRow(hist, bins32, r * W, W, g, h);
  }
}

/**
 * Partition rows[begin..end) by `goLeft[bin of feature]`: left rows to rows[begin..], right
 * rows to scratch[begin..]. When `hist` is given, the rows going to `side` (1 = left,
 * 0 = right) are added to it. Returns the number of left rows. The caller moves the right
 * rows back (`placeRight`).
 */
export function partitionRows(
  d: KernelData,
  begin: number,
  end: number,
  feature: number,
  goLeft: Uint8Array,
  hist: Float64Array | undefined,
  side: number,
): number {
  const { bins, bins32, gh, rows, scratch, stride } = d;
  const W = stride >>> 2;
  let w = begin;
  let k = begin;
  for (let i = begin; i < end; i++) {
    const r = rows[i]!;
    const l = goLeft[bins[r * stride + feature]!]!;
    rows[w] = r;
    scratch[k] = r;
    w += l;
    k += 1 - l;
    if (hist !== undefined && l === side) {
      const g = gh[2 * r]!;
      const h = gh[2 * r + 1]!;
      addRow(hist, bins32, r * W, W, g, h);
    }
  }
  return w - begin;
}

/** parent -= child, in place: the parent's buffer becomes the sibling's histogram. */
export function subtractHistogram(parent: Float64Array, child: Float64Array): void {
  for (let i = 0; i < parent.length; i++) parent[i]! -= child[i]!;
}

/** into += other (merging per-thread partial histograms). */
export function addHistogram(into: Float64Array, other: Float64Array): void {
  for (let i = 0; i < into.length; i++) into[i]! += other[i]!;
}

/**
 * Node operations the grower calls; implementations may spread them over helper threads
 * but must give the same results (same row order, same sums in the same order).
 */
export interface NodeKernels {
  readonly data: KernelData;
  /** gh of rows [0, n) from the margins. */
  gradients(n: number): void;
  /** hist = histogram of rows[0..n). */
  rootHistogram(hist: Float64Array, n: number): void;
  /**
   * Stable partition of rows[begin..end) by goLeft[bin]; hist (if given, overwritten) = the
   * histogram of the side's rows (1 = left, 0 = right). Returns the first right position.
   */
  split(
    begin: number,
    end: number,
    feature: number,
    goLeft: Uint8Array,
    hist: Float64Array | undefined,
    side: number,
  ): number;
  /** Release helper threads; returns the CPU time (ms) they used. */
  close(): number;
}

export class SerialKernels implements NodeKernels {
  constructor(readonly data: KernelData) {}

  gradients(n: number): void {
    gradientRows(this.data, 0, n);
  }

  rootHistogram(hist: Float64Array, n: number): void {
    hist.fill(0);
    accumulateRows(this.data, hist, 0, n);
  }

  split(
    begin: number,
    end: number,
    feature: number,
    goLeft: Uint8Array,
    hist: Float64Array | undefined,
    side: number,
  ): number {
    hist?.fill(0);
    const nLeft = partitionRows(this.data, begin, end, feature, goLeft, hist, side);
    const mid = begin + nLeft;
    this.data.rows.set(this.data.scratch.subarray(begin, begin + (end - mid)), mid);
    return mid;
  }

  close(): number {
    return 0;
  }
}
