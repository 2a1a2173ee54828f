/**
 * What the definition language's values are, as data: entities, sources, windows, features,
 * feature views and services (language.ts builds them, repo.ts resolves and checks a set of
 * them). Apart from both so that the resolver reads these shapes without importing the
 * builders that re-export it.
 */
import type { z } from 'zod';
import type { FeatureType } from './values';
import type { Duration } from './duration';
import type { AggregateFn, FeatureRef, FileFormat } from './vocabulary';

/** The TypeScript value of a feature type (nullable where read). */
export type ValueOf<T extends FeatureType> = T extends 'float' | 'int' ? number : T extends 'string' ? string : boolean;

export interface Entity<N extends string = string> {
  readonly kind: 'entity';
  readonly name: N;
  /** The record field (and the id users look features up by), e.g. `user_id`. */
  readonly joinKey: string;
  readonly description?: string;
  /** Bump to change the join key on purpose (see registry: incompatible changes). */
  readonly revision: number;
}

export interface Source<N extends string = string, R = Record<string, unknown>> {
  readonly kind: 'source';
  readonly name: N;
  /** zod object schema of one record; validation (ingest/validate.ts) reports its issues per field. */
  readonly schema: z.ZodObject;
  /** The field holding when the event happened: an ISO-8601 string or epoch milliseconds. */
  readonly eventTime: string;
  /** A field identifying a record: a record with the same id replaces the earlier one (corrections, redelivery). */
  readonly idField?: string;
  /**
   * The entity a record is about, for a source no view reads (a label source): its records are
   * stored under the entity's join key. A source that views read takes theirs.
   */
  readonly entity?: { readonly name: string; readonly joinKey: string };
  /** Arrives on an Event Hubs hub. */
  readonly stream?: { readonly hub: string };
  /** Arrives as uploaded files. */
  readonly file?: { readonly formats: readonly FileFormat[] };
  readonly description?: string;
  /** Type-level only: the parsed record type. */
  readonly __record?: R;
}

export interface WindowSpec {
  readonly kind: 'sliding' | 'tumbling';
  readonly size: Duration;
  /** sliding only: how often a window that is only shrinking (no new events) is re-evaluated. */
  readonly hop?: Duration;
}

export interface ExprFeature<R = any, T extends FeatureType = FeatureType> {
  readonly kind: 'expr';
  readonly type: T;
  /** Computes the value from one record (or, in a derived view, from the inputs' latest values). */
  readonly compute: (r: R) => ValueOf<T> | null | undefined;
  readonly description?: string;
}

export interface AggregateFeature<T extends FeatureType = FeatureType> {
  readonly kind: 'aggregate';
  readonly agg: AggregateFn;
  /** The record field aggregated (none for count). */
  readonly field?: string;
  readonly window: WindowSpec;
  /** Only for `last` when the schema cannot tell (otherwise inferred). */
  readonly type?: T;
  readonly description?: string;
}

export type Feature = ExprFeature<any, FeatureType> | AggregateFeature<FeatureType>;

export type FeatureMap = Record<string, Feature>;

export interface FeatureView<N extends string = string, F extends FeatureMap = FeatureMap> {
  readonly kind: 'view';
  readonly name: N;
  readonly entity: Entity | string;
  /** A source (or its name), or the upstream views (or their names) of a derived view. */
  readonly input: Source<string, any> | string | ReadonlyArray<FeatureView<string, any> | string>;
  readonly features: F;
  /** How long a value stays valid after its event time (online: key expiry; training sets: no older match). */
  readonly ttl?: Duration;
  /** How far behind the newest event a record may arrive and still be folded in (default 1h). */
  readonly lateness?: Duration;
  readonly revision: number;
  readonly description?: string;
  /** Features of this view for a feature service: `view.select('a', 'b')`. */
  select(...features: Array<keyof F & string>): FeatureRef[];
}

export interface FeatureService<N extends string = string> {
  readonly kind: 'service';
  readonly name: N;
  /** Ordered: a model's input columns come in this order. */
  readonly features: ReadonlyArray<string | FeatureRef>;
  readonly description?: string;
}
