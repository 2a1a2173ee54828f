/**
 * A bounded, seeded reservoir sample of rows (Vitter's algorithm R): every row of a stream
 * has the same chance to be kept, memory stays at `capacity` rows, and the same seed over the
 * same row order keeps the same rows. Used for quantile cut points (trees, baseline bins) and
 * for the baseline's stored sample.
 */
import { Random } from './random';

export class RowReservoir {
  /** Kept rows, row-major: values[i * width + j]. */
  readonly values: Float64Array;
  /** The stream position of each kept row. */
  readonly positions: Float64Array;
  private seen = 0;
  private readonly rng: Random;

  constructor(
    readonly capacity: number,
    readonly width: number,
    seed: number,
  ) {
    this.values = new Float64Array(capacity * width);
    this.positions = new Float64Array(capacity);
    this.rng = new Random(seed).fork('reservoir');
  }

  get size(): number {
    return Math.min(this.seen, this.capacity);
  }

  get rowsSeen(): number {
    return this.seen;
  }

  /**
   * Offer the next row: returns the slot it is to be written to (with `put`), or -1 when it is
   * not kept. (No callback per row: a stream of millions of rows mostly gets -1.)
   */
  next(): number {
    const i = this.seen++;
    let slot = -1;
    if (i < this.capacity) slot = i;
    else {
      const j = Math.floor(this.rng.next() * (i + 1));
      if (j < this.capacity) slot = j;
    }
    if (slot >= 0) this.positions[slot] = i;
    return slot;
  }

  put(slot: number, j: number, value: number): void {
    this.values[slot * this.width + j] = value;
  }

  /** Offer the next row of a row-major float array (width values from `base`). */
  offerRow(x: ArrayLike<number>, base: number): void {
    const slot = this.next();
    if (slot >= 0) for (let j = 0; j < this.width; j++) this.values[slot * this.width + j] = x[base + j]!;
  }

  /** Column j of the kept rows (in slot order). */
  column(j: number): Float64Array {
    const n = this.size;
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = this.values[i * this.width + j]!;
    return out;
  }

  /** Kept rows in stream order (a stable, readable sample). */
  rowsInOrder(): number[][] {
    const n = this.size;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.positions[a]! - this.positions[b]!);
    return order.map((s) => Array.from(this.values.subarray(s * this.width, (s + 1) * this.width)));
  }
}
