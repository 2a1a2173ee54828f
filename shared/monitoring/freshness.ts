/**
 * Feature freshness at prediction time, per window and feature: how old each online value was
 * when a prediction used it. All features of a view come from one online record with one event
 * time, so the predictor logs one age per view read (`viewAgeMs`, the prediction's time minus
 * the record's event time): a window reads one age column per view rather than one per
 * feature, which cost as much again as the bare histograms of 20 features. Records logged
 * before that carry an age per feature (`featureAgeMs`), read the same way; features that
 * share an age expression share its aggregates.
 *
 * A feature's freshness is over the predictions that used its view's record for it: the scan
 * counts and maxes each age over the predictions that substituted nothing (substituted-rows.ts),
 * and the few that did are added back per group, less those that defaulted or overrode this
 * feature; exact counts and max. p50/p95 come from the window's bounded uniform sample, whose
 * rows carry their ages and substitution lists (a window no larger than the sample has exact
 * quantiles). DuckDB's `approx_quantile` (a t-digest per feature) cost about 2 s per million
 * rows × 20 features, four times the window's histograms; a 10,000-row sample puts p95 within
 * about ±0.5 percentile for nothing. Given values have no age; a window of records logged
 * before ages existed has no freshness rather than failing.
 */
import type { ExtraAggregates, SampleColumns } from './window-query';
import { parseList, SUBSTITUTED, type SubstitutedGroup } from './substituted-rows';

export interface FeatureFreshness {
  /** Predictions whose value of this feature came from the online store. */
  count: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

/** The prediction log's field holding the ages, one per view read (a number map: a column per view, prediction-columns.ts). */
export const AGE_FIELD = 'viewAgeMs';
/** The field records logged before `viewAgeMs` hold: one age per feature read. */
export const LEGACY_AGE_FIELD = 'featureAgeMs';

/** Each feature's age as one of a few distinct expressions (features of one view share theirs). */
export interface AgeColumns {
  exprs: string[];
  /** Feature -> index into `exprs`. */
  byFeature: Record<string, number>;
}

/** The distinct age expressions of these features (a feature whose age no layout holds is left out). */
export function ageColumns(ages: Record<string, string>): AgeColumns {
  const exprs: string[] = [];
  const byFeature: Record<string, number> = {};
  for (const [feature, expr] of Object.entries(ages)) {
    let k = exprs.indexOf(expr);
    if (k < 0) k = exprs.push(expr) - 1;
    byFeature[feature] = k;
  }
  return { exprs, byFeature };
}

/** The window scan's share of the work (over a relation with the SUBSTITUTED column). */
export function freshnessAggregates(a: AgeColumns): ExtraAggregates {
  if (!a.exprs.length) return {};
  const aggregates: Record<string, string> = {};
  // Only a substituting row's lists: the rest read as NULL, not a string per sampled row.
  const onlySubstituting = (list: string) => `CASE WHEN ${SUBSTITUTED} THEN ${list} END`;
  const sampled: Record<string, string> = {
    age_d: onlySubstituting('defaulted'),
    age_o: onlySubstituting('overridden'),
  };
  a.exprs.forEach((e, k) => {
    // CASE rather than FILTER (WHERE ...): see substituted-rows.ts.
    const unsubstituted = `CASE WHEN NOT ${SUBSTITUTED} THEN ${e} END`;
    aggregates[`age_n${k}`] = `count(${unsubstituted})`;
    aggregates[`age_max${k}`] = `max(${unsubstituted})`;
    sampled[`age_s${k}`] = e;
  });
  return { aggregates, sampled };
}

/** Freshness per feature from the scan's row, its sample and the substituted groups; features no prediction read are absent. */
export function readFreshness(
  a: AgeColumns,
  row: Record<string, unknown>,
  sample: SampleColumns,
  groups: readonly SubstitutedGroup[],
): Record<string, FeatureFreshness> {
  const out: Record<string, FeatureFreshness> = {};
  // Per sampled row, what it substituted (undefined: nothing, as in most rows).
  const parsed = new Map<string, ReadonlySet<string>>();
  const substituted = (sample.age_d ?? []).map((d, j) => {
    const o = sample.age_o?.[j];
    if ((d === '[]' || d == null) && (o === '[]' || o == null)) return undefined;
    const key = `${String(d)}\u0000${String(o)}`;
    let set = parsed.get(key);
    if (!set) parsed.set(key, (set = new Set([...parseList(d), ...parseList(o)])));
    return set;
  });
  // The sorted sampled ages of expression k over the rows that did not substitute `f` (all rows when `f` is none).
  const sorted = new Map<string, Float64Array>();
  const sampledAges = (k: number, f: string | undefined): Float64Array => {
    const key = `${k}\u0000${f ?? ''}`;
    let seen = sorted.get(key);
    if (seen) return seen;
    const ages: number[] = [];
    (sample[`age_s${k}`] ?? []).forEach((v, j) => {
      if (v !== null && v !== undefined && !(f !== undefined && substituted[j]?.has(f))) ages.push(Number(v));
    });
    // Sorted natively as doubles: a comparator sort of 10,000 ages took 3 ms.
    seen = new Float64Array(ages).sort();
    sorted.set(key, seen);
    return seen;
  };
  const sampledSubstitutions = new Set([...parsed.values()].flatMap((s) => [...s]));
  for (const [f, k] of Object.entries(a.byFeature)) {
    let count = Number(row[`age_n${k}`] ?? 0);
    const max = row[`age_max${k}`];
    let maxMs = max === null || max === undefined ? -Infinity : Number(max);
    for (const g of groups) {
      if (g.defaulted.includes(f) || g.overridden.includes(f)) continue;
      count += g.ages[k]!.count;
      if (g.ages[k]!.max !== null) maxMs = Math.max(maxMs, g.ages[k]!.max);
    }
    if (!(count > 0)) continue;
    // Features of one view share the sorted ages unless the sample holds a row substituting them.
    const seen = sampledAges(k, sampledSubstitutions.has(f) ? f : undefined);
    // A feature read by rows the sample missed: its max is the best estimate there is.
    out[f] = { count, p50Ms: quantile(seen, 0.5) ?? maxMs, p95Ms: quantile(seen, 0.95) ?? maxMs, maxMs };
  }
  return out;
}

/**
 * Whether one max per age (the largest over every substituted prediction) is each feature's
 * max over the groups that used its age: true when, for every feature, the groups carrying its
 * age either all leave it alone or all substituted it.
 */
export function maximaSettled(a: AgeColumns, groups: readonly SubstitutedGroup[]): boolean {
  return Object.entries(a.byFeature).every(([f, k]) => {
    const carrying = groups.filter((g) => g.ages[k]!.count > 0);
    const substituting = carrying.filter((g) => g.defaulted.includes(f) || g.overridden.includes(f)).length;
    return substituting === 0 || substituting === carrying.length;
  });
}

/** Linear interpolation between closest ranks (numpy's default) of sorted values; undefined when empty. */
function quantile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (!sorted.length) return undefined;
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
}
