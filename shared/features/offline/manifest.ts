/**
 * The manifest: one Table row per committed segment. A segment is visible exactly when its
 * row exists in state `live`. Rows are insert-only (a second commit of the same id is a
 * no-op), and a compaction replaces rows in one entity-group transaction of the partition
 * it lives in, so readers see the old set or the new set.
 *
 * Keys: PartitionKey `<view>~<version>~<yyyy-mm-dd>` (one partition per view/version/day:
 * the unit of compaction, and a range scan lists a view over days); RowKey = segment id.
 * Superseded rows are kept as tombstones: they keep lineage walkable and make a redelivered
 * batch whose segment was compacted away still a no-op. A retraction (retraction.ts) supersedes
 * a segment by a filtered copy the same way, or, when no row of it stays, with none (`retracted`).
 */
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { DependencyError } from '../../errors';
import type { SegmentLineage, SegmentRecord } from './types';

export const MANIFEST_TABLE = 'offlinemanifest';
/** A compaction can replace at most this many segments: a Table transaction holds 100 operations. */
export const MAX_COMPACTION_INPUTS = 99;
/** Rows superseded this recently are listed too, so a listing that races a compaction can tell. */
const SUPERSEDED_LOOKBACK_MS = 15 * 60_000;
const MAX_LISTING_ATTEMPTS = 5;

export function partitionKey(view: string, version: string, day: string): string {
  return `${view}~${version}~${day}`;
}

/** Version strings sort below `~` (names use A-Z a-z 0-9 _ . -), so `<prefix>~` ends a prefix scan. */
const END = '~';

type Row = {
  partitionKey: string;
  rowKey: string;
  view: string;
  version: string;
  day: string;
  blobPath: string;
  blobEtag: string;
  sizeBytes: number;
  rowCount: number;
  minEventTs: number;
  maxEventTs: number;
  minCreatedTs: number;
  maxCreatedTs: number;
  minLagMs: number;
  maxLagMs: number;
  lineage: string;
  committedAt: number;
  state: string;
  supersededBy?: string;
  supersededAt?: number;
  /** Why a segment was taken out with no replacement (state superseded, no supersededBy). */
  retracted?: string;
};

/** A manifest row as read, with the Table ETag needed to change it safely. */
export interface ManifestEntry extends SegmentRecord {
  rowEtag: string;
}

function toRow(r: SegmentRecord): Row {
  return {
    partitionKey: partitionKey(r.view, r.version, r.day),
    rowKey: r.segmentId,
    view: r.view,
    version: r.version,
    day: r.day,
    blobPath: r.blobPath,
    blobEtag: r.etag,
    sizeBytes: r.sizeBytes,
    rowCount: r.rowCount,
    minEventTs: r.minEventTs,
    maxEventTs: r.maxEventTs,
    minCreatedTs: r.minCreatedTs,
    maxCreatedTs: r.maxCreatedTs,
    minLagMs: r.minLagMs,
    maxLagMs: r.maxLagMs,
    lineage: JSON.stringify(r.lineage),
    committedAt: r.committedAt,
    state: r.state,
  };
}

function fromRow(e: TableEntityResult<Row>): ManifestEntry {
  return {
    view: e.view,
    version: e.version,
    day: e.day,
    segmentId: e.rowKey!,
    blobPath: e.blobPath,
    etag: e.blobEtag,
    sizeBytes: e.sizeBytes,
    rowCount: e.rowCount,
    minEventTs: e.minEventTs,
    maxEventTs: e.maxEventTs,
    minCreatedTs: e.minCreatedTs,
    maxCreatedTs: e.maxCreatedTs,
    minLagMs: e.minLagMs,
    maxLagMs: e.maxLagMs,
    lineage: JSON.parse(e.lineage) as SegmentLineage,
    committedAt: e.committedAt,
    state: e.state === 'superseded' ? 'superseded' : 'live',
    ...(e.supersededBy ? { supersededBy: e.supersededBy } : {}),
    ...(e.retracted ? { retracted: e.retracted } : {}),
    ...(e.timestamp ? { changedAt: Date.parse(e.timestamp) } : {}),
    rowEtag: e.etag,
  };
}

const q = (s: string) => `'${s.replace(/'/g, "''")}'`;

export interface ManifestQuery {
  view?: string;
  version?: string;
  /** Inclusive day bounds, yyyy-mm-dd. */
  fromDay?: string;
  toDay?: string;
}

export class Manifest {
  constructor(private readonly table: TableClient) {}

  /**
   * Insert-only commit: 'already-committed' when a row with this id exists (whatever its
   * state), which is what makes a redelivered input a no-op.
   */
  async commit(record: SegmentRecord): Promise<'committed' | 'already-committed'> {
    try {
      await this.table.createEntity(toRow(record));
      return 'committed';
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 409) return 'already-committed';
      throw e;
    }
  }

  async get(view: string, version: string, day: string, segmentId: string): Promise<ManifestEntry | undefined> {
    try {
      return fromRow(await this.table.getEntity<Row>(partitionKey(view, version, day), segmentId));
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw e;
    }
  }

  /** Every row (any state) matching the query: for garbage collection and lineage. */
  async list(query: ManifestQuery, extraFilter?: string): Promise<ManifestEntry[]> {
    const filters: string[] = [];
    if (query.view !== undefined) {
      const prefix = query.version !== undefined ? `${query.view}~${query.version}~` : `${query.view}~`;
      if (query.version !== undefined && query.fromDay) filters.push(`PartitionKey ge ${q(prefix + query.fromDay)}`);
      else filters.push(`PartitionKey ge ${q(prefix)}`);
      if (query.version !== undefined && query.toDay) filters.push(`PartitionKey le ${q(prefix + query.toDay)}`);
      else filters.push(`PartitionKey lt ${q(prefix + END)}`);
    }
    if (query.fromDay) filters.push(`day ge ${q(query.fromDay)}`);
    if (query.toDay) filters.push(`day le ${q(query.toDay)}`);
    if (extraFilter) filters.push(`(${extraFilter})`);
    const out: ManifestEntry[] = [];
    const iter = this.table.listEntities<Row>(filters.length ? { queryOptions: { filter: filters.join(' and ') } } : {});
    for await (const e of iter) out.push(fromRow(e));
    return out;
  }

  /**
   * The live segments, as one consistent set. A listing that spans several pages can race a
   * compaction (seeing a replaced segment live and its replacement too, or neither); such a
   * listing is detected from the compaction links and taken again.
   */
  async live(query: ManifestQuery): Promise<ManifestEntry[]> {
    for (let attempt = 1; attempt <= MAX_LISTING_ATTEMPTS; attempt++) {
      const since = Date.now() - SUPERSEDED_LOOKBACK_MS;
      const rows = await this.list(query, `state eq 'live' or supersededAt ge ${since}`);
      if (isConsistent(rows)) return rows.filter((r) => r.state === 'live');
    }
    throw new DependencyError(
      `the offline manifest kept changing while it was listed (${MAX_LISTING_ATTEMPTS} attempts); retry, or pause compaction of ${query.view ?? 'all views'}`,
    );
  }

  /**
   * Take a segment out with no replacement (every row of it was retracted), only if its row is
   * unchanged since it was read: 'conflict' when it changed (a compaction replaced it meanwhile).
   */
  async retract(entry: ManifestEntry, reason: string): Promise<'committed' | 'conflict'> {
    try {
      await this.table.updateEntity(
        { partitionKey: partitionKey(entry.view, entry.version, entry.day), rowKey: entry.segmentId, state: 'superseded', supersededAt: Date.now(), retracted: reason },
        'Merge',
        { etag: entry.rowEtag },
      );
      return 'committed';
    } catch (e) {
      const code = (e as { statusCode?: number }).statusCode;
      if (code === 412 || code === 404) return 'conflict';
      throw e;
    }
  }

  /**
   * Commit a compaction: insert the merged segment and mark every input superseded, in one
   * transaction, each input only if its row is unchanged since it was read. Returns
   * 'conflict' when any input changed (another compaction got there first) and
   * 'already-committed' when this very compaction was committed before.
   */
  async replace(merged: SegmentRecord, inputs: ManifestEntry[]): Promise<'committed' | 'already-committed' | 'conflict'> {
    const pk = partitionKey(merged.view, merged.version, merged.day);
    if (inputs.length > MAX_COMPACTION_INPUTS) throw new RangeError(`a compaction takes at most ${MAX_COMPACTION_INPUTS} inputs`);
    for (const i of inputs) {
      if (partitionKey(i.view, i.version, i.day) !== pk) throw new RangeError(`segment ${i.segmentId} is not in partition ${pk}`);
    }
    const now = Date.now();
    const actions: TransactionAction[] = [
      ['create', toRow(merged)],
      ...inputs.map((i): TransactionAction => [
        'update',
        { partitionKey: pk, rowKey: i.segmentId, state: 'superseded', supersededBy: merged.segmentId, supersededAt: now },
        'Merge',
        { etag: i.rowEtag },
      ]),
    ];
    try {
      await this.table.submitTransaction(actions);
      return 'committed';
    } catch (e) {
      const code = (e as { statusCode?: number }).statusCode;
      if (code === 409 || code === 412 || code === 404) {
        return (await this.get(merged.view, merged.version, merged.day, merged.segmentId)) ? 'already-committed' : 'conflict';
      }
      throw e;
    }
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
    if (r.state === 'superseded' && r.retracted === undefined && (!r.supersededBy || !byId.has(r.supersededBy))) return false;
    if (r.lineage.input.kind === 'compaction') {
      for (const id of r.lineage.input.inputs) if (byId.get(id)?.state === 'live') return false;
    }
  }
  return true;
}
