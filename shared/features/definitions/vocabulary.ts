/**
 * The closed word lists of definitions, in a module of their own so that language.ts (the DSL)
 * and repo.ts (the checks) can both use them without importing each other's values.
 *
 *   AGGREGATE_FNS, AggregateFn    count | sum | mean | min | max | last | distinct_count
 *   FILE_FORMATS, FileFormat      csv | jsonl | parquet
 *   FeatureRef, formatRef(ref)    { view, feature } <-> 'view:feature'
 */
export type AggregateFn = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'last' | 'distinct_count';
export const AGGREGATE_FNS: readonly AggregateFn[] = ['count', 'sum', 'mean', 'min', 'max', 'last', 'distinct_count'];

export type FileFormat = 'csv' | 'jsonl' | 'parquet';
export const FILE_FORMATS: readonly FileFormat[] = ['csv', 'jsonl', 'parquet'];

/** A reference to one feature of one view, as used by feature services: `user_clicks:clicks_1h`. */
export interface FeatureRef {
  readonly view: string;
  readonly feature: string;
}

/** `user_clicks:clicks_1h` */
export function formatRef(ref: FeatureRef): string {
  return `${ref.view}:${ref.feature}`;
}
