/**
 * Grows one regression tree on gradients (the XGBoost objective with second-order gain):
 * leaf weight -G/(H + l2), split gain ½[GL²/(HL+l2) + GR²/(HR+l2) - G²/(H+l2)] - minSplitGain.
 *
 * - Nodes own a contiguous range of one row-index array; a split partitions its range in
 *   place, stably, so every range stays in ascending row order (sequential memory access).
 * - Only the smaller child's histogram is built from rows, in the same pass that splits the
 *   parent's rows; the larger is the parent's minus it, computed in the parent's buffer
 *   (histogram subtraction, the sibling trick).
 * - Best-first: the open node with the largest gain is split next, until `maxLeaves` (if
 *   set) or no node can split; nodes at `maxDepth` do not split. Without a leaf limit this
 *   gives the same tree as depth-wise growth.
 * - Missing values (bin 0) are tried on both sides of each cut; the better side becomes the
 *   split's default direction. A node that saw no missing values sends them to the child
 *   with more hessian (more data), the best guess for a value never seen in training.
 * - Ties (equal gain) go to the lower feature, then the lower bin, then "missing right":
 *   the same data always gives the same tree.
 */
import { splitThreshold, type BinnedData } from '../bins';
import { histogramLength, subtractHistogram, HIST_PER_FEATURE, type NodeKernels } from './histogram';
import type { GrownTree } from './model';

export interface TreeParams {
  maxDepth: number;
  /** 0 = no limit. */
  maxLeaves: number;
  minChildWeight: number;
  l2: number;
  minSplitGain: number;
  learningRate: number;
}

interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  GL: number;
  HL: number;
}

interface OpenNode {
  id: number;
  begin: number;
  end: number;
  depth: number;
  G: number;
  H: number;
  hist: Float64Array | undefined;
  split: Split | undefined;
}

export class TreeGrower {
  private readonly pool: Float64Array[] = [];
  private readonly histLength: number;
  private readonly nBins: Int32Array;
  private readonly goLeft = new Uint8Array(256);
  // Node arrays of the tree being grown (reused between trees).
  private cap = 64;
  private feature = new Int32Array(this.cap);
  private threshold = new Float32Array(this.cap);
  private splitBin = new Uint8Array(this.cap);
  private missingLeft = new Uint8Array(this.cap);
  private left = new Int32Array(this.cap);
  private right = new Int32Array(this.cap);
  private value = new Float64Array(this.cap);

  constructor(
    private readonly data: BinnedData,
    private readonly kernels: NodeKernels,
    private readonly p: TreeParams,
  ) {
    this.histLength = histogramLength(data.stride);
    this.nBins = Int32Array.from(data.cuts, (c) => c.length + 1);
  }

  /**
   * Grow a tree over the kernels' rows[0..nRows) (the tree's sample, ascending) using only
   * `features`; adds each leaf's value to `margins` for the rows it holds. Returns the tree.
   */
  grow(nRows: number, features: Int32Array, margins: Float64Array): GrownTree {
    let size = 1;
    const root: OpenNode = { id: 0, begin: 0, end: nRows, depth: 0, G: 0, H: 0, hist: undefined, split: undefined };
    const open: OpenNode[] = [];
    let leaves = 1;
    if (nRows >= 2 && this.p.maxDepth > 0) {
      root.hist = this.take();
      this.kernels.rootHistogram(root.hist, nRows);
      // Any feature's bins (missing included) sum to the node's totals; padding included, so feature 0.
      for (let b = 0; b < 256; b++) {
        root.G += root.hist[2 * b]!;
        root.H += root.hist[2 * b + 1]!;
      }
      if (this.canSplit(0, root.H)) this.consider(root, features, open);
      else {
        this.give(root.hist);
        root.hist = undefined;
      }
    } else {
      const { gh, rows } = this.kernels.data;
      for (let i = 0; i < nRows; i++) {
        root.G += gh[2 * rows[i]!]!;
        root.H += gh[2 * rows[i]! + 1]!;
      }
    }
    if (!root.split) this.finishLeaf(root, margins);

    while (open.length) {
      if (this.p.maxLeaves && leaves >= this.p.maxLeaves) break;
      const node = this.popBest(open);
      const s = node.split!;
      const lDepth = node.depth + 1;
      const GR = node.G - s.GL;
      const HR = node.H - s.HL;
      const wantL = this.canSplit(lDepth, s.HL);
      const wantR = this.canSplit(lDepth, HR);
      // The child whose histogram is built from rows: the one with less hessian (fewer rows,
      // exactly so for squared error) when both need one; the other is parent minus it.
      const side = wantL && wantR ? (s.HL <= HR ? 1 : 0) : wantL ? 1 : 0;
      const built = wantL || wantR ? this.take() : undefined;
      const goLeft = this.goLeft;
      for (let b = 0; b < 256; b++) goLeft[b] = b === 0 ? (s.missingLeft ? 1 : 0) : b <= s.bin ? 1 : 0;
      const mid = this.kernels.split(node.begin, node.end, s.feature, goLeft, built, side);
      const l: OpenNode = {
        id: size,
        begin: node.begin,
        end: mid,
        depth: lDepth,
        G: s.GL,
        H: s.HL,
        hist: undefined,
        split: undefined,
      };
      const r: OpenNode = {
        id: size + 1,
        begin: mid,
        end: node.end,
        depth: lDepth,
        G: GR,
        H: HR,
        hist: undefined,
        split: undefined,
      };
      this.ensure(size + 2);
      this.feature[node.id] = s.feature;
      this.splitBin[node.id] = s.bin;
      this.threshold[node.id] = splitThreshold(this.data.cuts[s.feature]!, s.bin);
      this.missingLeft[node.id] = s.missingLeft ? 1 : 0;
      this.left[node.id] = l.id;
      this.right[node.id] = r.id;
      size += 2;
      leaves++;

      const parentHist = node.hist!;
      node.hist = undefined;
      const [direct, other] = side === 1 ? [l, r] : [r, l];
      if (built) direct.hist = built;
      if (built && wantL && wantR) {
        subtractHistogram(parentHist, built);
        other.hist = parentHist;
      } else this.give(parentHist);
      // A child with too few rows to split needs no histogram even if its hessian allowed one.
      for (const child of [l, r]) {
        if (child.hist && child.end - child.begin < 2) {
          this.give(child.hist);
          child.hist = undefined;
        }
      }
      for (const child of [l, r]) {
        if (child.hist) this.consider(child, features, open);
        if (!child.split) this.finishLeaf(child, margins);
      }
    }
    // Nodes left open by the leaf limit become leaves.
    for (const node of open) {
      this.give(node.hist!);
      node.hist = undefined;
      this.finishLeaf(node, margins);
    }
    return {
      size,
      feature: this.feature.slice(0, size),
      threshold: this.threshold.slice(0, size),
      splitBin: this.splitBin.slice(0, size),
      missingLeft: this.missingLeft.slice(0, size),
      left: this.left.slice(0, size),
      right: this.right.slice(0, size),
      value: this.value.slice(0, size),
    };
  }

  private canSplit(depth: number, H: number): boolean {
    return depth < this.p.maxDepth && H >= 2 * this.p.minChildWeight;
  }

  /** Find the node's best split; an open node with a split goes on the list, else its histogram is freed. */
  private consider(node: OpenNode, features: Int32Array, open: OpenNode[]): void {
    node.split = this.bestSplit(node, features);
    if (node.split) open.push(node);
    else {
      this.give(node.hist!);
      node.hist = undefined;
    }
  }

  private bestSplit(node: OpenNode, features: Int32Array): Split | undefined {
    const hist = node.hist!;
    const { l2, minChildWeight: mcw } = this.p;
    const G = node.G;
    const H = node.H;
    const parent = (G * G) / (H + l2);
    let best: Split | undefined;
    let bestGain = 2 * this.p.minSplitGain + 1e-12;
    /** Left child (GL, HL): keep the cut if both children are heavy enough and it gains most so far. */
    const tryCut = (GL: number, HL: number, feature: number, bin: number, missingLeft: boolean | undefined) => {
      const GR = G - GL;
      const HR = H - HL;
      if (HL < mcw || HR < mcw) return;
      const gain = (GL * GL) / (HL + l2) + (GR * GR) / (HR + l2) - parent;
      if (gain > bestGain) {
        bestGain = gain;
        best = { gain, feature, bin, missingLeft: missingLeft ?? HL >= HR, GL, HL };
      }
    };
    for (let fi = 0; fi < features.length; fi++) {
      const f = features[fi]!;
      const o = f * HIST_PER_FEATURE;
      const Gm = hist[o]!;
      const Hm = hist[o + 1]!;
      const hasMissing = Hm > 0;
      const nb = this.nBins[f]!;
      let GL = 0;
      let HL = 0;
      for (let b = 1; b < nb; b++) {
        GL += hist[o + 2 * b]!;
        HL += hist[o + 2 * b + 1]!;
        // Left = bins 1..b, missing values right (with none seen: to the heavier child), then left.
        tryCut(GL, HL, f, b, hasMissing ? false : undefined);
        if (hasMissing) tryCut(GL + Gm, HL + Hm, f, b, true);
      }
    }
    const found = best as Split | undefined;
    if (found) found.gain /= 2;
    return found;
  }

  private finishLeaf(node: OpenNode, margins: Float64Array): void {
    this.ensure(node.id + 1);
    const v = Math.fround((-node.G / (node.H + this.p.l2)) * this.p.learningRate);
    this.feature[node.id] = -1;
    this.value[node.id] = v;
    const rows = this.kernels.data.rows;
    for (let i = node.begin; i < node.end; i++) margins[rows[i]!]! += v;
  }

  private popBest(open: OpenNode[]): OpenNode {
    let bi = 0;
    for (let i = 1; i < open.length; i++) {
      const a = open[i]!.split!.gain;
      const b = open[bi]!.split!.gain;
      if (a > b || (a === b && open[i]!.id < open[bi]!.id)) bi = i;
    }
    return open.splice(bi, 1)[0]!;
  }

  private take(): Float64Array {
    return this.pool.pop() ?? new Float64Array(this.histLength);
  }

  private give(h: Float64Array): void {
    this.pool.push(h);
  }

  private ensure(n: number): void {
    if (n <= this.cap) return;
    let cap = this.cap;
    while (cap < n) cap *= 2;
    const grow = <T extends Int32Array | Float32Array | Uint8Array | Float64Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.feature = grow(this.feature, (n) => new Int32Array(n));
    this.threshold = grow(this.threshold, (n) => new Float32Array(n));
    this.splitBin = grow(this.splitBin, (n) => new Uint8Array(n));
    this.missingLeft = grow(this.missingLeft, (n) => new Uint8Array(n));
    this.left = grow(this.left, (n) => new Int32Array(n));
    this.right = grow(this.right, (n) => new Int32Array(n));
    this.value = grow(this.value, (n) => new Float64Array(n));
    this.cap = cap;
  }
}
