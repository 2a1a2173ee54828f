/**
 * Feature definitions: the TypeScript DSL users write (Feast vocabulary).
 *
 *   entity({ name, joinKey })                                   -> Entity        who a feature describes
 *   source({ name, schema, eventTime, id?, stream?, file? })    -> Source        where records come from (zod schema)
 *   featureView({ name, entity, input, features, ttl?, lateness? }) -> FeatureView
 *       input: a Source (row-level expressions + windowed aggregations of its records)
 *           or [view, ...] (a derived view: expressions over its inputs' latest values; the DAG)
 *       features: (f) => ({ name: f.count(sliding('1h')), other: f.expr('float', (r) => ...), ... })
 *         f.expr(type, fn)               one value per record, fn's source text is part of the version
 *         f.count(window)                f.sum|mean|min|max(field, window)
 *         f.last(field, window)          f.distinctCount(field, window)
 *   sliding(size, { hop? })  tumbling(size)                     windows (semantics: transform.ts)
 *   featureService({ name, features: ['view:feature', view.select('a', 'b'), ...] }) -> FeatureService
 *   defineRepo({ entities, sources, views, services })          -> FeatureRepo (repo.ts: validated, versioned, in DAG order)
 *
 * Everything here only describes; nothing runs until defineRepo() checks the whole set.
 * References may be objects (typed: `r.amount` is checked against the source schema) or names
 * (strings), which defineRepo resolves and reports precisely when missing.
 */
import type { z } from 'zod';
import type { FeatureType } from './values';
import type { Duration } from './duration';
import { FILE_FORMATS, type AggregateFn, type FeatureRef, type FileFormat } from './vocabulary';
import type {
  AggregateFeature,
  Entity,
  ExprFeature,
  Feature,
  FeatureMap,
  FeatureService,
  FeatureView,
  Source,
  ValueOf,
  WindowSpec,
} from './shapes';
export type * from './shapes';

export { defineRepo, FeatureRepo } from './repo';
export type {
  ResolvedEntity,
  ResolvedSource,
  ResolvedView,
  ResolvedFeature,
  ResolvedService,
  ServiceFeature,
} from './repo';
export type { Duration } from './duration';
export { AGGREGATE_FNS, FILE_FORMATS, formatRef } from './vocabulary';
export type { AggregateFn, FeatureRef, FileFormat } from './vocabulary';
export type { FeatureType } from './values';

// ---------------------------------------------------------------------------------------------
// Entities and sources

export function entity<const N extends string>(spec: {
  name: N;
  joinKey: string;
  description?: string;
  revision?: number;
}): Entity<N> {
  return Object.freeze({ kind: 'entity', ...spec, revision: spec.revision ?? 1 });
}

export function source<const N extends string, S extends z.ZodObject>(spec: {
  name: N;
  schema: S;
  eventTime: keyof z.input<S> & string;
  id?: keyof z.output<S> & string;
  /** The entity its records are about (label sources, which no view reads). */
  entity?: Entity;
  stream?: { hub: string };
  /** true = every format; or the accepted formats. */
  file?: boolean | { formats: FileFormat[] };
  description?: string;
}): Source<N, z.output<S>> {
  const { id, file, entity, ...rest } = spec;
  return Object.freeze({
    kind: 'source' as const,
    ...rest,
    ...(entity !== undefined ? { entity: { name: entity.name, joinKey: entity.joinKey } } : {}),
    ...(id !== undefined ? { idField: id } : {}),
    ...(file === true ? { file: { formats: FILE_FORMATS } } : file ? { file } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Windows and features

/**
 * A window ending at each event: the value at time t covers (t - size, t].
 * Rows are emitted at every event and again when events leave the window (at the exact moment,
 * or at the next multiple of `hop` when given, to emit fewer rows).
 */
export function sliding(size: Duration, opts: { hop?: Duration } = {}): WindowSpec {
  return Object.freeze({ kind: 'sliding', size, ...(opts.hop !== undefined ? { hop: opts.hop } : {}) });
}

/** Fixed, non-overlapping windows [k*size, (k+1)*size); the value at t is the last window that ended at or before t. */
export function tumbling(size: Duration): WindowSpec {
  return Object.freeze({ kind: 'tumbling', size });
}

interface FeatureOptions {
  description?: string;
}

/** The feature type a feature produces, at the type level (count -> int, mean -> float, last -> its field's). */
export type TypeOfFeature<F> =
  F extends ExprFeature<any, infer T> ? T : F extends AggregateFeature<infer T> ? T : FeatureType;

type NonNull<T> = Exclude<T, null | undefined>;
type FieldType<V> = NonNull<V> extends number ? 'float' : NonNull<V> extends boolean ? 'bool' : 'string';
type NumericField<R> = { [K in keyof R]-?: NonNull<R[K]> extends number ? K : never }[keyof R] & string;
type AnyField<R> = keyof R & string;

export function expr<T extends FeatureType, R = any>(
  type: T,
  compute: (r: R) => ValueOf<T> | null | undefined,
  opts: FeatureOptions = {},
): ExprFeature<R, T> {
  return Object.freeze({ kind: 'expr', type, compute, ...opts });
}

function aggregate<T extends FeatureType>(
  agg: AggregateFn,
  field: string | undefined,
  window: WindowSpec,
  opts: FeatureOptions & { type?: T },
): AggregateFeature<T> {
  return Object.freeze({ kind: 'aggregate', agg, window, ...(field !== undefined ? { field } : {}), ...opts });
}

/** Number of records in the window (0 when empty). */
export const count = (window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'int'> =>
  aggregate('count', undefined, window, opts);
/** Sum of a numeric field (0 when empty; nulls skipped). */
export const sum = (field: string, window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'float'> =>
  aggregate('sum', field, window, opts);
/** Mean of a numeric field (null when empty). */
export const mean = (field: string, window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'float'> =>
  aggregate('mean', field, window, opts);
export const min = (field: string, window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'float'> =>
  aggregate('min', field, window, opts);
export const max = (field: string, window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'float'> =>
  aggregate('max', field, window, opts);
/** The value of the latest record in the window (null when empty). */
export const last = <T extends FeatureType = FeatureType>(
  field: string,
  window: WindowSpec,
  opts: FeatureOptions & { type?: T } = {},
): AggregateFeature<T> => aggregate('last', field, window, opts);
/** Number of distinct non-null values of a field in the window (0 when empty). */
export const distinctCount = (field: string, window: WindowSpec, opts: FeatureOptions = {}): AggregateFeature<'int'> =>
  aggregate('distinct_count', field, window, opts);

/** The feature builders a view over a source receives, typed by the source's record. */
export interface SourceFeatureBuilders<R> {
  expr<T extends FeatureType>(
    type: T,
    compute: (r: R) => ValueOf<T> | null | undefined,
    opts?: FeatureOptions,
  ): ExprFeature<R, T>;
  count(window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'int'>;
  sum(field: NumericField<R>, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'float'>;
  mean(field: NumericField<R>, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'float'>;
  min(field: NumericField<R>, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'float'>;
  max(field: NumericField<R>, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'float'>;
  last<K extends AnyField<R>>(field: K, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<FieldType<R[K]>>;
  distinctCount(field: AnyField<R>, window: WindowSpec, opts?: FeatureOptions): AggregateFeature<'int'>;
}

/** A derived view only computes expressions over its inputs' latest values. */
export interface DerivedFeatureBuilders<R> {
  expr<T extends FeatureType>(
    type: T,
    compute: (r: R) => ValueOf<T> | null | undefined,
    opts?: FeatureOptions,
  ): ExprFeature<R, T>;
}

const builders: SourceFeatureBuilders<any> = { expr, count, sum, mean, min, max, last, distinctCount };

// ---------------------------------------------------------------------------------------------
// Feature views

/** What a derived view's expressions receive: each input view's latest values by view name (null where none or expired). */
export type DerivedRecord<Vs> = {
  [V in Extract<Vs extends ReadonlyArray<infer E> ? E : never, FeatureView<string, any>> as V['name']]: {
    [K in keyof V['features']]: ValueOf<TypeOfFeature<V['features'][K]>> | null;
  };
};

type InputOf = Source<string, any> | string | ReadonlyArray<FeatureView<string, any> | string>;
type RecordOf<I> = I extends Source<string, infer R> ? R : I extends ReadonlyArray<any> ? DerivedRecord<I> : any;
type BuildersOf<I> =
  I extends ReadonlyArray<any> ? DerivedFeatureBuilders<RecordOf<I>> : SourceFeatureBuilders<RecordOf<I>>;

export interface FeatureViewSpec<N extends string, I extends InputOf, F extends FeatureMap> {
  name: N;
  entity: Entity | string;
  input: I;
  /** `(f) => ({ ... })` gives typed builders; a plain object works too (untyped records). */
  features: ((f: BuildersOf<I>) => F) | F;
  ttl?: Duration;
  lateness?: Duration;
  /** Bump to change a feature's type or the view's entity on purpose (see registry). */
  revision?: number;
  description?: string;
}

export function featureView<const N extends string, const I extends InputOf, F extends FeatureMap>(
  spec: FeatureViewSpec<N, I, F>,
): FeatureView<N, F> {
  const features = typeof spec.features === 'function' ? (spec.features as (f: unknown) => F)(builders) : spec.features;
  const name = spec.name;
  return Object.freeze({
    kind: 'view' as const,
    ...spec,
    revision: spec.revision ?? 1,
    features: Object.freeze({ ...features }),
    select: (...names: Array<keyof F & string>) => names.map((feature) => Object.freeze({ view: name, feature })),
  });
}

// ---------------------------------------------------------------------------------------------
// Feature services

export function featureService<const N extends string>(spec: {
  name: N;
  /** `'view:feature'` strings and/or `view.select(...)` lists, in model input order. */
  features: ReadonlyArray<string | FeatureRef | ReadonlyArray<FeatureRef>>;
  description?: string;
}): FeatureService<N> {
  const flat: Array<string | FeatureRef> = [];
  for (const f of spec.features) {
    if (Array.isArray(f)) flat.push(...(f as ReadonlyArray<FeatureRef>));
    else flat.push(f as string | FeatureRef);
  }
  return Object.freeze({ kind: 'service' as const, ...spec, features: Object.freeze(flat) });
}
