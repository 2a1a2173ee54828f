/**
 * The vocabulary of the offline store: what a segment is made from (its input), what the
 * manifest records about it, and what a writer asks for.
 */
import type { FeatureColumn } from '../definitions/values';

/**
 * Where a segment's rows came from. It is the identity of the segment: the same input for
 * the same view/version/day always yields the same segment id, so a redelivered batch or a
 * re-uploaded file commits nothing new.
 */
export type SegmentInput =
  /** One Event Hubs batch: a contiguous range of sequence numbers on one partition. */
  | { kind: 'eventhub'; source: string; partition: string; firstSeq: number; lastSeq: number }
  /** One uploaded file, identified by the sha256 of its bytes (not its name). */
  | { kind: 'file'; source: string; sha256: string; name?: string }
  /**
   * The output of a deterministic job step (a backfill interval, a recomputation): `key`
   * must name the work, not the attempt (e.g. `backfill:<view>:<from>..<to>:<inputs hash>`).
   */
  | { kind: 'job'; key: string; inputs?: string[] }
  /** A compaction of segments of one view/version/day (ids sorted). */
  | { kind: 'compaction'; inputs: string[] };

/** What a committed segment records about how it was made (issue 5 reads and extends it). */
export interface SegmentLineage {
  input: SegmentInput;
  /** The job or function invocation that wrote it; not part of the identity. */
  jobId?: string;
  /** Free-form, small (parameters, code version). */
  params?: Record<string, string | number | boolean>;
}

/** A writer's description of what it writes: the view, its definition version and columns. */
export interface SegmentSpec {
  view: string;
  version: string;
  columns: FeatureColumn[];
  lineage: SegmentLineage;
}

export type SegmentState = 'live' | 'superseded';

/** Row count and time bounds of a segment's rows (epoch ms). */
export interface SegmentStats {
  rowCount: number;
  minEventTs: number;
  maxEventTs: number;
  minCreatedTs: number;
  maxCreatedTs: number;
  /** Bounds of created_ts - event_ts (arrival lag; negative for future-dated events). */
  minLagMs: number;
  maxLagMs: number;
}

/** One manifest row: a committed segment. */
export interface SegmentRecord extends SegmentStats {
  view: string;
  version: string;
  /** UTC event day, yyyy-mm-dd. */
  day: string;
  segmentId: string;
  /** Path inside the `offline` container. */
  blobPath: string;
  etag: string;
  sizeBytes: number;
  lineage: SegmentLineage;
  committedAt: number;
  state: SegmentState;
  /** The compaction (or retraction) that replaced this segment (state = superseded). */
  supersededBy?: string;
  /** Why the segment was taken out with no replacement (state = superseded): every row of it was retracted. */
  retracted?: string;
  /** Server time of the row's last change (Table `Timestamp`), ms. */
  changedAt?: number;
}

/** The outcome of committing one segment. */
export interface SegmentCommit {
  segmentId: string;
  day: string;
  blobPath: string;
  rowCount: number;
  /** `already-committed`: the same input was committed before; nothing new is visible. */
  status: 'committed' | 'already-committed';
}

export interface WriteResult {
  segments: SegmentCommit[];
  /** Rows newly made visible by this call. */
  rowsCommitted: number;
}

/** A time range over event time, half-open [from, to), epoch ms. */
export interface EventRange {
  from?: number;
  to?: number;
}
