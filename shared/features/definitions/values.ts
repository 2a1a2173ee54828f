/**
 * The values that flow between ingest, the transforms, and both stores.
 * Times are epoch milliseconds (UTC) everywhere inside the core; ISO strings only at the edges.
 */
export type FeatureValue = number | string | boolean | null;

export type FeatureType = 'float' | 'int' | 'string' | 'bool';

/** One computed row of a feature view: all of the view's features for one entity at one event time. */
export interface FeatureRow {
  entityId: string;
  /** When the thing happened (the source's event-time field). */
  eventTs: number;
  /** When Strata learned it (ingest time); breaks ties and makes "as known at" rebuilds possible. */
  createdTs: number;
  values: Record<string, FeatureValue>;
}

/** A feature column of a view, in the order the view declares them. */
export interface FeatureColumn {
  name: string;
  type: FeatureType;
}
