/**
 * The window samples' radix sort against V8's own sort of the same float32 values: every
 * value and its place, signed zeros, infinities, subnormals and NaN included.
 */
import { describe, expect, it } from 'vitest';
import { ascendingFloat32 } from '../../shared/monitoring/statistics/ascending-float32';

/** V8's order of the values as float32 (TypedArray sort: -0 before +0, NaN last). */
const reference = (xs: number[]) => Array.from(new Float32Array(xs).sort());

/** A deterministic mix of magnitudes and signs (xorshift32). */
function values(n: number, seed: number): number[] {
  let s = seed;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u = (s >>> 0) / 2 ** 32;
    out.push((u - 0.5) * 10 ** ((i % 13) - 6));
  }
  return out;
}

describe('ascendingFloat32', () => {
  it('sorts like Float32Array.prototype.sort, bit for bit, over mixed magnitudes and repeats', () => {
    for (const n of [0, 1, 2, 255, 256, 257, 10_000]) {
      const xs = values(n, n + 7);
      xs.push(...xs.slice(0, n >> 2)); // repeats
      expect(Array.from(ascendingFloat32(xs)), `n = ${n}`).toEqual(reference(xs));
    }
  });

  it('places signed zeros, infinities, subnormals, float32 extremes and NaN as V8 does', () => {
    const xs = [
      0,
      -0,
      Infinity,
      -Infinity,
      NaN,
      1e-45,
      -1e-45,
      3.4028234663852886e38,
      -3.4028234663852886e38,
      1,
      -1,
      0.1,
    ];
    const got = Array.from(ascendingFloat32(xs));
    const want = reference(xs);
    expect(got).toHaveLength(want.length);
    got.forEach((v, i) => expect(Object.is(v, want[i]), `${v} at ${i}, V8 has ${want[i]}`).toBe(true));
    expect(Object.is(got[4], -0) && Object.is(got[5], 0)).toBe(true);
    expect(Number.isNaN(got[got.length - 1])).toBe(true);
  });

  it('rounds to float32 and leaves its input alone', () => {
    const xs = [0.3, 0.1, 0.2];
    expect(Array.from(ascendingFloat32(xs))).toEqual([0.1, 0.2, 0.3].map(Math.fround));
    expect(xs).toEqual([0.3, 0.1, 0.2]);
  });
});
