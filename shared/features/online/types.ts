import type { FeatureRow, FeatureValue } from '../definitions/values';

/** The latest known values of one (view, entity), with when they happened and when they arrived. */
export interface OnlineRecord {
  values: Record<string, FeatureValue>;
  eventTs: number;
  createdTs: number;
}

export interface OnlineKey {
  view: string;
  entityId: string;
}

export interface OnlineWriteResult {
  /** Rows that replaced what was stored (newer by (eventTs, createdTs)). */
  applied: number;
  /** Rows that were older than, or the same as, what was stored: left alone. */
  skipped: number;
}

/**
 * The online store contract (Feast-style: small, store-agnostic). Redis and the embedded
 * store both implement it and pass the same contract tests.
 */
export interface OnlineStore {
  readonly kind: 'redis' | 'embedded';
  /**
   * Write rows of one view. A row applies only if its (eventTs, createdTs) is newer than the
   * stored one, atomically per key; replaying the same rows changes nothing (idempotent).
   * ttlMs: the view's TTL (keys expire that long after their event time); undefined = no expiry.
   */
  write(view: string, rows: FeatureRow[], ttlMs?: number): Promise<OnlineWriteResult>;
  /**
   * Remove the values of these entities whose event time is after `eventTs`, atomically per key:
   * rows computed on an event clock that ran ahead of real time (features/ingest/future-records.ts),
   * which newer-wins writes could never replace. Returns how many keys went.
   */
  forgetAfter(view: string, entityIds: string[], eventTs: number): Promise<number>;
  /** Read many keys (possibly of several views) in one round trip; null where nothing is stored. */
  read(keys: OnlineKey[]): Promise<Array<OnlineRecord | null>>;
  /** Reachability and version, for /api/health. */
  ping(): Promise<{ ok: boolean; version: string }>;
  close(): Promise<void>;
}
