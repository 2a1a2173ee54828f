/**
 * Seeded random streams for the data generator (Mersenne Twister and normal draws from
 * @stdlib). Every aspect of the generated data draws from its own stream, derived from the
 * seed and the aspect's name, so turning one switch (late records, corrections, drift) leaves
 * every other draw exactly as it was: the same seed gives the same users, times and values.
 */
import mt19937 from '@stdlib/random-base-mt19937';
import normal from '@stdlib/random-base-normal';

export class RandomStream {
  private readonly unit: () => number;
  private readonly gauss: (mu: number, sigma: number) => number;

  constructor(seed: number, name: string) {
    // The factory's PRNG has .normalized (uniform on [0, 1)) at run time; its declared type omits it.
    const prng = mt19937.factory({ seed: streamSeed(seed, name) }) as unknown as { normalized: () => number };
    this.unit = prng.normalized;
    this.gauss = normal.factory({ prng: this.unit });
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.unit();
  }

  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.unit();
  }

  normal(mu = 0, sigma = 1): number {
    return this.gauss(mu, sigma);
  }

  chance(p: number): boolean {
    return this.unit() < p;
  }
}

/** A positive 32-bit seed for stream `name` of `seed` (FNV-1a of both). */
function streamSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}\u0000${name}`) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** Index of the first cumulative weight above u * total (binary search); cumulative is increasing. */
export function pickCumulative(cumulative: ArrayLike<number>, u: number): number {
  const target = u * cumulative[cumulative.length - 1]!;
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function cumulativeOf(weights: readonly number[]): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  weights.forEach((w, i) => (out[i] = sum += w));
  return out;
}
