/**
 * The manifest: one record per committed segment. A segment is visible exactly when its
 * record exists in state `live`. Records are insert-only (a second commit of the same id is a
 * no-op), and a compaction replaces records in one atomic step within the view/version/day they
 * belong to, so readers see the old set or the new set.
 *
 * Superseded records are kept as tombstones: they keep lineage walkable and make a redelivered
 * batch whose segment was compacted away still a no-op. A retraction (retraction.ts) supersedes
 * a segment by a filtered copy the same way, or, when no row of it stays, with none (`retracted`).
 *
 * The rules (what a commit, a replacement, a consistent listing is) live here; the records live
 * in a ManifestStore (shared/azure/manifest-table.ts on Azure Tables, shared/memory/ in memory).
 */
import { DependencyError } from '../../errors';
import type { SegmentLineage, SegmentRecord } from './types';

/** A compaction can replace at most this many segments: a Table transaction holds 100 operations. */
export const MAX_COMPACTION_INPUTS = 99;
/** Records superseded this recently are listed too, so a listing that races a compaction can tell. */
const SUPERSEDED_LOOKBACK_MS = 15 * 60_000;
const MAX_LISTING_ATTEMPTS = 5;

/** A manifest record as read, with the version token (the Table ETag) a change of it must match. */
export interface ManifestEntry extends SegmentRecord {
  rowEtag: string;
}

export interface ManifestQuery {
  view?: string;
  version?: string;
  /** Inclusive day bounds, yyyy-mm-dd. */
  fromDay?: string;
  toDay?: string;
  /** One segment id (in any view, version and day). */
  segmentId?: string;
  /** Only records committed at or after this time (epoch ms). */
  committedSince?: number;
  /** Only live records and those superseded at or after this time (epoch ms). */
  liveOrSupersededSince?: number;
}

/**
 * Where manifest records are kept. Every method is one atomic step of the backend:
 *   insert(record)                  'already-committed' when a record with its id exists (in any state)
 *   get(view, version, day, id)     the record, or undefined
 *   list(query)                     every record (any state) matching the query
 *   retract(entry, reason, at)      mark it superseded with no replacement, if unchanged since read
 *   replace(merged, inputs, at)     insert merged and mark every input superseded by it, all or
 *                                   nothing, each input only if unchanged since read
 *   setLineage(entry, lineage)      change its lineage, if unchanged since read
 * 'conflict' answers a changed (or vanished) record.
 */
export interface ManifestStore {
  insert(record: SegmentRecord): Promise<'committed' | 'already-committed'>;
  get(view: string, version: string, day: string, segmentId: string): Promise<ManifestEntry | undefined>;
  list(query: ManifestQuery): Promise<ManifestEntry[]>;
  retract(entry: ManifestEntry, reason: string, at: number): Promise<'committed' | 'conflict'>;
  replace(merged: SegmentRecord, inputs: readonly ManifestEntry[], at: number): Promise<'committed' | 'conflict'>;
  setLineage(entry: ManifestEntry, lineage: SegmentLineage): Promise<'updated' | 'conflict'>;
}

export class Manifest {
  constructor(readonly store: ManifestStore) {}

  /**
   * Insert-only commit: 'already-committed' when a record with this id exists (whatever its
   * state), which is what makes a redelivered input a no-op.
   */
  commit(record: SegmentRecord): Promise<'committed' | 'already-committed'> {
    return this.store.insert(record);
  }

  get(view: string, version: string, day: string, segmentId: string): Promise<ManifestEntry | undefined> {
    return this.store.get(view, version, day, segmentId);
  }

  /** Every record (any state) matching the query: for garbage collection and lineage. */
  list(query: ManifestQuery): Promise<ManifestEntry[]> {
    return this.store.list(query);
  }

  /**
   * The live segments, as one consistent set. A listing that spans several pages can race a
   * compaction (seeing a replaced segment live and its replacement too, or neither); such a
   * listing is detected from the compaction links and taken again.
   */
  async live(query: ManifestQuery): Promise<ManifestEntry[]> {
    for (let attempt = 1; attempt <= MAX_LISTING_ATTEMPTS; attempt++) {
      const rows = await this.store.list({ ...query, liveOrSupersededSince: Date.now() - SUPERSEDED_LOOKBACK_MS });
      if (isConsistent(rows)) return rows.filter((r) => r.state === 'live');
    }
    throw new DependencyError(
      `the offline manifest kept changing while it was listed (${MAX_LISTING_ATTEMPTS} attempts); retry, or pause compaction of ${query.view ?? 'all views'}`,
    );
  }

  /**
   * Take a segment out with no replacement (every row of it was retracted), only if its record is
   * unchanged since it was read: 'conflict' when it changed (a compaction replaced it meanwhile).
   */
  retract(entry: ManifestEntry, reason: string): Promise<'committed' | 'conflict'> {
    return this.store.retract(entry, reason, Date.now());
  }

  /**
   * Commit a compaction: insert the merged segment and mark every input superseded, in one
   * step, each input only if its record is unchanged since it was read. Returns 'conflict' when
   * any input changed (another compaction got there first) and 'already-committed' when this
   * very compaction was committed before.
   */
  async replace(
    merged: SegmentRecord,
    inputs: ManifestEntry[],
  ): Promise<'committed' | 'already-committed' | 'conflict'> {
    if (inputs.length > MAX_COMPACTION_INPUTS)
      throw new RangeError(`a compaction takes at most ${MAX_COMPACTION_INPUTS} inputs`);
    for (const i of inputs) {
      if (i.view !== merged.view || i.version !== merged.version || i.day !== merged.day) {
        throw new RangeError(
          `segment ${i.segmentId} is not in partition ${merged.view}~${merged.version}~${merged.day}`,
        );
      }
    }
    if ((await this.store.replace(merged, inputs, Date.now())) === 'committed') return 'committed';
    return (await this.get(merged.view, merged.version, merged.day, merged.segmentId))
      ? 'already-committed'
      : 'conflict';
  }

  /** Change a record's lineage (lineage/versions.ts), if unchanged since read. */
  setLineage(entry: ManifestEntry, lineage: SegmentLineage): Promise<'updated' | 'conflict'> {
    return this.store.setLineage(entry, lineage);
  }
}

/**
 * A listing is consistent when every compaction it shows is either fully applied or not
 * seen at all: no input of a listed compaction is still live, and every superseded row's
 * replacement is listed (a retracted row has none).
 */
export function isConsistent(rows: readonly SegmentRecord[]): boolean {
  const byId = new Map(rows.map((r) => [r.segmentId, r]));
  for (const r of rows) {
    if (r.state === 'superseded' && r.retracted === undefined && (!r.supersededBy || !byId.has(r.supersededBy)))
      return false;
    if (r.lineage.input.kind === 'compaction') {
      for (const id of r.lineage.input.inputs) if (byId.get(id)?.state === 'live') return false;
    }
  }
  return true;
}
