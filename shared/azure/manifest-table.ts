/**
 * The offline manifest's rows in an Azure Table (the ManifestStore of
 * features/offline/manifest.ts).
 *
 * Table `offlinemanifest`: PartitionKey `<view>~<version>~<yyyy-mm-dd>` (one partition per
 * view/version/day: the unit of compaction, and a range scan lists a view over days); RowKey =
 * segment id. Inserts are creates (409: it exists); a replacement is one entity-group
 * transaction of the partition; changes of a read row are conditional on its ETag.
 */
import type { TableClient, TableEntityResult, TransactionAction } from '@azure/data-tables';
import type { ManifestEntry, ManifestQuery, ManifestStore } from '../features/offline/manifest';
import type { SegmentLineage, SegmentRecord } from '../features/offline/types';
import { isNotFound, isTaken } from './status';
import type { Storage } from './storage';

export const MANIFEST_TABLE = 'offlinemanifest';

function partitionKey(view: string, version: string, day: string): string {
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

export class ManifestTable implements ManifestStore {
  constructor(private readonly table: TableClient) {}

  static async open(storage: Storage, table = MANIFEST_TABLE): Promise<ManifestTable> {
    return new ManifestTable(await storage.table(table));
  }

  async insert(record: SegmentRecord): Promise<'committed' | 'already-committed'> {
    try {
      await this.table.createEntity(toRow(record));
      return 'committed';
    } catch (e) {
      if (isTaken(e)) return 'already-committed';
      throw e;
    }
  }

  async get(view: string, version: string, day: string, segmentId: string): Promise<ManifestEntry | undefined> {
    try {
      return fromRow(await this.table.getEntity<Row>(partitionKey(view, version, day), segmentId));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list(query: ManifestQuery): Promise<ManifestEntry[]> {
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
    if (query.segmentId !== undefined) filters.push(`RowKey eq ${q(query.segmentId)}`);
    if (query.committedSince !== undefined) filters.push(`committedAt ge ${Math.floor(query.committedSince)}`);
    if (query.liveOrSupersededSince !== undefined)
      filters.push(`(state eq 'live' or supersededAt ge ${Math.floor(query.liveOrSupersededSince)})`);
    const out: ManifestEntry[] = [];
    const iter = this.table.listEntities<Row>(
      filters.length ? { queryOptions: { filter: filters.join(' and ') } } : {},
    );
    for await (const e of iter) out.push(fromRow(e));
    return out;
  }

  async retract(entry: ManifestEntry, reason: string, at: number): Promise<'committed' | 'conflict'> {
    try {
      await this.table.updateEntity(
        {
          partitionKey: partitionKey(entry.view, entry.version, entry.day),
          rowKey: entry.segmentId,
          state: 'superseded',
          supersededAt: at,
          retracted: reason,
        },
        'Merge',
        { etag: entry.rowEtag },
      );
      return 'committed';
    } catch (e) {
      if (isTaken(e) || isNotFound(e)) return 'conflict';
      throw e;
    }
  }

  async replace(
    merged: SegmentRecord,
    inputs: readonly ManifestEntry[],
    at: number,
  ): Promise<'committed' | 'conflict'> {
    const pk = partitionKey(merged.view, merged.version, merged.day);
    const actions: TransactionAction[] = [
      ['create', toRow(merged)],
      ...inputs.map((i): TransactionAction => [
        'update',
        {
          partitionKey: pk,
          rowKey: i.segmentId,
          state: 'superseded',
          supersededBy: merged.segmentId,
          supersededAt: at,
        },
        'Merge',
        { etag: i.rowEtag },
      ]),
    ];
    try {
      await this.table.submitTransaction(actions);
      return 'committed';
    } catch (e) {
      if (isTaken(e) || isNotFound(e)) return 'conflict';
      throw e;
    }
  }

  async setLineage(entry: ManifestEntry, lineage: SegmentLineage): Promise<'updated' | 'conflict'> {
    try {
      await this.table.updateEntity(
        {
          partitionKey: partitionKey(entry.view, entry.version, entry.day),
          rowKey: entry.segmentId,
          lineage: JSON.stringify(lineage),
        },
        'Merge',
        { etag: entry.rowEtag },
      );
      return 'updated';
    } catch (e) {
      if (isTaken(e)) return 'conflict';
      throw e;
    }
  }
}
