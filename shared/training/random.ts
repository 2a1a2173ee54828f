/**
 * Seeded randomness for trainers: every random choice a fit makes (row and column
 * subsampling, the quantile sample, the reservoir) comes from one of these, so a seed gives
 * the same model bit for bit. Written here rather than taken from npm because the trainers
 * need named, independent streams per purpose (`fork('rows')`) over a few lines of integer
 * arithmetic, and the hot loops call it millions of times without allocation.
 */

/** splitmix32: spreads a 32-bit seed (or a seed mixed with a label) over the whole state. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: 32 bits of state, period 2^32, good enough for sampling rows and columns. */
export class Random {
  private state: number;
  constructor(readonly seed: number) {
    this.state = mix32(seed >>> 0);
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** An independent stream for one purpose: the same (seed, label) always gives the same stream. */
  fork(label: string): Random {
    return new Random(mix32(this.seed ^ hashLabel(label)));
  }

  /** `k` distinct indices of 0..n-1, ascending (a partial Fisher-Yates shuffle). */
  choose(n: number, k: number): Int32Array {
    const all = Int32Array.from({ length: n }, (_, i) => i);
    const m = Math.min(k, n);
    for (let i = 0; i < m; i++) {
      const j = i + this.int(n - i);
      const t = all[i]!;
      all[i] = all[j]!;
      all[j] = t;
    }
    return all.subarray(0, m).sort();
  }
}
