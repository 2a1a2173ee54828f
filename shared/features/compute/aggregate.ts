/**
 * Aggregations over a run of records, and checking values against feature types.
 *
 *   aggregateRange(agg, field, items, lo, hi) -> FeatureValue     over items[lo, hi), in event order
 *   checkValue(type, v) -> { value } | { problem }               what a feature may hold
 *
 * Nulls (and missing fields) are skipped, as in SQL: count counts records, sum of nothing is 0,
 * mean/min/max/last of nothing is null, distinct_count counts distinct non-null values.
 * Sums run in event order, so the same records give the same float whatever batches they came in.
 */
import type { AggregateFn } from '../definitions/vocabulary';
import type { FeatureType, FeatureValue } from '../definitions/values';

export interface HasData {
  data: Record<string, unknown>;
}

export function aggregateRange(
  agg: AggregateFn,
  field: string | undefined,
  items: ReadonlyArray<HasData>,
  lo: number,
  hi: number,
): unknown {
  if (agg === 'count') return hi - lo;
  const f = field!;
  switch (agg) {
    case 'sum': {
      let s = 0;
      for (let i = lo; i < hi; i++) {
        const v = items[i]!.data[f];
        if (typeof v === 'number') s += v;
      }
      return s;
    }
    case 'mean': {
      let s = 0;
      let n = 0;
      for (let i = lo; i < hi; i++) {
        const v = items[i]!.data[f];
        if (typeof v === 'number') {
          s += v;
          n++;
        }
      }
      return n ? s / n : null;
    }
    case 'min':
    case 'max': {
      let best: number | null = null;
      for (let i = lo; i < hi; i++) {
        const v = items[i]!.data[f];
        if (typeof v === 'number' && (best === null || (agg === 'min' ? v < best : v > best))) best = v;
      }
      return best;
    }
    case 'last': {
      for (let i = hi - 1; i >= lo; i--) {
        const v = items[i]!.data[f];
        if (v !== null && v !== undefined) return v;
      }
      return null;
    }
    case 'distinct_count': {
      // Strings (the usual case) are their own keys: no string built per item per evaluation.
      // Other values by type and JSON, apart, so "1" and 1 stay distinct.
      const strings = new Set<string>();
      let others: Set<string> | undefined;
      for (let i = lo; i < hi; i++) {
        const v = items[i]!.data[f];
        if (typeof v === 'string') strings.add(v);
        else if (v !== null && v !== undefined) (others ??= new Set()).add(`${typeof v}${JSON.stringify(v)}`);
      }
      return strings.size + (others?.size ?? 0);
    }
  }
  return null;
}

export type CheckedValue = { value: FeatureValue; problem?: undefined } | { value: null; problem: string };

/** A computed value as the feature type requires, or null and what was wrong. */
export function checkValue(type: FeatureType, v: unknown): CheckedValue {
  if (v === null || v === undefined) return { value: null };
  switch (type) {
    case 'float':
      if (typeof v === 'number' && Number.isFinite(v)) return { value: v };
      break;
    case 'int':
      if (typeof v === 'number' && Number.isInteger(v)) return { value: v };
      if (typeof v === 'number' && Number.isFinite(v))
        return { value: null, problem: `expected a whole number (int), got ${v}` };
      break;
    case 'string':
      if (typeof v === 'string') return { value: v };
      break;
    case 'bool':
      if (typeof v === 'boolean') return { value: v };
      break;
  }
  const got =
    typeof v === 'number'
      ? Number.isNaN(v)
        ? 'NaN'
        : String(v)
      : typeof v === 'string'
        ? `string ${JSON.stringify(v)}`
        : typeof v;
  return { value: null, problem: `expected ${type === 'float' ? 'a finite number (float)' : type}, got ${got}` };
}

export function sameValues(a: Record<string, FeatureValue>, b: Record<string, FeatureValue>): boolean {
  for (const k in a) if (!Object.is(a[k], b[k]) && !(a[k] === 0 && b[k] === 0)) return false;
  for (const k in b) if (!(k in a)) return false;
  return true;
}
