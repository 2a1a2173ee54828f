/**
 * The offline store: the full history of every feature view, as immutable Parquet segments
 * in Blob (`offline/<view>/<version>/<yyyy-mm-dd>/<segmentId>.parquet`; a multi-day batch's
 * carry its claimed rendering, `<segmentId>.<claim>-<rendering>.parquet`) plus a manifest in
 * Table storage that makes each segment visible atomically.
 *
 * Segment format: wide per view — one row per entity per event:
 *   entity_id VARCHAR, event_ts BIGINT, created_ts BIGINT, <one typed column per feature>
 * (times are epoch ms UTC, as everywhere in the core). Why wide rather than long
 * (entity_id, feature, value, …):
 *  - a view's features are computed together and share (event_ts, created_ts), so the
 *    point-in-time join does one as-of lookup per view, not one per feature, and never has
 *    to pivot 10x more rows back into columns;
 *  - each feature keeps its own Parquet type (no VARCHAR/union `value` column), so values
 *    round-trip exactly and compress well; column pruning gives long format's "read only the
 *    features you ask for" for free;
 *  - the schema of a (view, version) is fixed by its definition; a new definition is a new
 *    version path, so files never mix schemas.
 * No extra provenance columns are stored per row: a row's provenance is its segment (the
 * manifest row carries lineage), and created_ts is the only per-row time the joins need.
 *
 * Write protocol (exactly-once effect under at-least-once delivery):
 *  1. id = hash(input, view, version, day); if the manifest has the id, stop (no-op);
 *  2. upload the Parquet file with If-None-Match: * (write-once), facts as blob metadata;
 *  3. insert the manifest row (insert-only). A crash between 2 and 3 leaves an invisible
 *     orphan; the next delivery of the same input commits that orphan (if younger than half
 *     the grace period) or replaces it, and gcOrphans deletes orphans older than the grace.
 * A write spanning several days is one rendering, whoever races it: the first writer to claim
 * the batch wins all of its days (batch-claim.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { Storage } from '../../azure/storage';
import { ConflictError } from '../../errors';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { FeatureRow, FeatureValue } from '../definitions/values';
import { BlobCache, StaleBlobError } from './cache';
import { assertColumns, fileList, literal, num, withConnection } from './duckdb';
import { Manifest, type ManifestEntry, type ManifestStore } from './manifest';
import { ManifestTable } from '../../azure/manifest-table';
import { OFFLINE_CONTAINER, blobVersion, deleteIfUnchanged, uploadOnce, type SegmentBlobFacts } from './segment-blobs';
import { stageQuery, stageRows, stagedDays, writeDayFile, type DayFile } from './segment-file';
import { assertName, eventDay, segmentBlobPath, segmentId } from './segment-id';
import { forEachLimit } from '../../concurrency';
import { commitClaimed } from './batch-claim';
import type {
  EventRange,
  SegmentCommit,
  SegmentInput,
  SegmentLineage,
  SegmentRecord,
  SegmentSpec,
  SegmentStats,
  WriteResult,
} from './types';

export interface OfflineStoreOptions {
  storage: Storage;
  /** Where the manifest's records live (default: the Table of the same storage account, shared/azure/manifest-table.ts). */
  manifest?: ManifestStore;
  /** Local folder for downloaded segments (reused across calls and processes). */
  cacheDir: string;
  /**
   * How long an uploaded-but-uncommitted segment (or a compacted-away one) is kept before
   * gcOrphans may delete it. A writer retrying the same input within half of it commits the
   * orphan as is. Default 1 hour.
   */
  orphanGraceMs?: number;
  /** Scratch folder for files being written (default: the OS temp folder). */
  workDir?: string;
}

/** How writeRows may skip a lookup or hold its commit back (see writeRows). */
export interface WriteRowsOptions {
  /** Days the caller has looked up (lookUpDays), and whether each one's segment is committed. */
  committed?: ReadonlyMap<string, boolean>;
  beforeCommit?: () => Promise<void>;
}

/** Which segments of a view a read covers. */
export interface SegmentQuery extends EventRange {
  /** Definition version; default: the newest version present in the range (see latestVersion). */
  version?: string;
  /** Skip segments whose every row arrived after this (min created_ts > arrivedBy). */
  arrivedBy?: number;
  /** Skip segments whose every row arrived before this (max created_ts < arrivedSince). */
  arrivedSince?: number;
}

export interface LocalSegments {
  version: string | undefined;
  segments: SegmentRecord[];
  /** Local Parquet paths, one per segment, in the same order. */
  files: string[];
}

const COMMIT_CONCURRENCY = 4;
const DAY_MS = 86_400_000;
const MAX_WRITE_ATTEMPTS = 4;
const MAX_READ_ATTEMPTS = 3;

export class OfflineStore {
  readonly cache: BlobCache;
  readonly orphanGraceMs: number;
  private readonly workDir: string;

  private constructor(
    readonly storage: Storage,
    readonly manifest: Manifest,
    readonly container: ContainerClient,
    opts: OfflineStoreOptions,
  ) {
    this.cache = new BlobCache(storage, opts.cacheDir);
    this.orphanGraceMs = opts.orphanGraceMs ?? 3_600_000;
    this.workDir = opts.workDir ?? os.tmpdir();
  }

  static async open(opts: OfflineStoreOptions): Promise<OfflineStore> {
    const [manifest, container] = await Promise.all([
      opts.manifest ?? ManifestTable.open(opts.storage),
      opts.storage.container(OFFLINE_CONTAINER),
    ]);
    return new OfflineStore(opts.storage, new Manifest(manifest), container, opts);
  }

  /**
   * Write a batch of rows of one view: one segment per event day, each committed exactly once.
   * `opts.committed`: days the caller has just looked up (lookUpDays), so they are not looked
   * up again (any other day is). `opts.beforeCommit`: awaited after the files
   * are staged and uploaded and before anything is committed; when it throws, nothing is (an
   * uploaded blob stays an orphan the next delivery commits or replaces). Ingest uses it to
   * prepare a batch's done marker while the work it marks is still being written.
   */
  async writeRows(spec: SegmentSpec, rows: readonly FeatureRow[], opts: WriteRowsOptions = {}): Promise<WriteResult> {
    checkSpec(spec);
    if (rows.length === 0) return { segments: [], rowsCommitted: 0 };
    // Redelivery fast path: the days, and so the segment ids, follow from the rows alone;
    // when all are committed, nothing is staged or written.
    const byIndex = new Map<number, number>();
    let timesValid = true;
    for (const r of rows) {
      if (!Number.isFinite(r.eventTs)) timesValid = false; // staging reports it, with the row
      const d = Math.floor(r.eventTs / DAY_MS);
      byIndex.set(d, (byIndex.get(d) ?? 0) + 1);
    }
    const perDay = timesValid
      ? new Map([...byIndex].map(([d, n]) => [eventDay(d * DAY_MS), n] as const))
      : new Map<string, number>();
    const known = opts.committed ?? new Map<string, boolean>();
    const unknown = [...perDay.keys()].filter((d) => !known.has(d));
    const committed = new Set([...perDay.keys()].filter((d) => known.get(d) === true));
    if (unknown.length) for (const d of await this.committedDays(spec, unknown)) committed.add(d);
    if (timesValid && committed.size === perDay.size) {
      return {
        segments: [...perDay]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([day, n]) => this.alreadyCommitted(spec, day, n)),
        rowsCommitted: 0,
      };
    }
    return this.writeStaged(spec, (c, table) => stageRows(c, table, spec.columns, rows), committed, opts.beforeCommit);
  }

  /**
   * Write the result of a DuckDB query (columns entity_id, event_ts, created_ts and the
   * view's features) without passing rows through JS: for backfills and bulk loads.
   */
  async writeQuery(spec: SegmentSpec, select: string): Promise<WriteResult> {
    checkSpec(spec);
    return this.writeStaged(spec, (c, table) => stageQuery(c, table, spec.columns, select));
  }

  /** Commit one already-written Parquet file holding rows of a single event day. */
  async commitDayFile(
    view: string,
    version: string,
    lineage: SegmentLineage,
    file: DayFile,
    opts: { checked?: boolean; beforeCommit?: () => Promise<void> } = {},
  ): Promise<SegmentCommit> {
    const { beforeCommit } = opts;
    const insert = beforeCommit
      ? async (record: SegmentRecord) => (await beforeCommit(), this.manifest.commit(record))
      : (record: SegmentRecord) => this.manifest.commit(record);
    const placed = await this.placeSegment(view, version, lineage, file, insert, opts);
    const { record: _record, ...commit } = placed;
    if (commit.status === 'conflict')
      throw new ConflictError(
        `segment ${commit.segmentId} of ${view}/${version} could not be committed; retry the write`,
      );
    return commit as SegmentCommit;
  }

  /**
   * Upload a segment file write-once and make it visible with `commit` (a manifest insert,
   * or a compaction's transaction). Returns the record committed, or why nothing was.
   */
  async placeSegment(
    view: string,
    version: string,
    lineage: SegmentLineage,
    file: DayFile,
    commit: (record: SegmentRecord) => Promise<'committed' | 'already-committed' | 'conflict'>,
    opts: { checked?: boolean } = {},
  ): Promise<Omit<SegmentCommit, 'status'> & { status: SegmentCommit['status'] | 'conflict'; record?: SegmentRecord }> {
    const id = segmentId(lineage.input, view, version, file.day);
    const blobPath = segmentBlobPath(view, version, file.day, id);
    const base = { segmentId: id, day: file.day, blobPath, rowCount: file.rowCount };
    // `checked`: the caller has just seen the id uncommitted.
    if (!opts.checked && (await this.manifest.get(view, version, file.day, id)))
      return { ...base, status: 'already-committed' };

    const ours: SegmentBlobFacts = { ...pickFacts(file), lineage };
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const up = await uploadOnce(this.container, blobPath, file.file, ours);
      let etag: string;
      let facts: SegmentBlobFacts;
      let sizeBytes: number;
      if (up.status === 'uploaded') {
        etag = up.etag;
        facts = ours;
        sizeBytes = file.sizeBytes;
        this.cache.put(OFFLINE_CONTAINER, blobPath, etag, file.file);
      } else {
        // Someone uploaded this segment first: a concurrent writer of the same input, or a
        // crashed one. If the id is committed, we are done; else commit their bytes (they are
        // a valid rendering of the same input) unless the orphan is old enough that gcOrphans
        // may be deleting it: then replace it.
        const found = await blobVersion(this.container, blobPath);
        if (!found) continue;
        if (await this.manifest.get(view, version, file.day, id)) return { ...base, status: 'already-committed' };
        if (!found.facts)
          throw new ConflictError(
            `blob ${OFFLINE_CONTAINER}/${blobPath} exists but was not written by the offline store; remove it`,
          );
        const readAt = Date.now();
        if (found.serverNow - found.lastModified > this.orphanGraceMs / 2) {
          await deleteIfUnchanged(this.container, blobPath, found.etag);
          continue;
        }
        etag = found.etag;
        facts = found.facts;
        sizeBytes = found.sizeBytes;
        // A long stall here could outlive the orphan's grace: look again rather than commit late.
        if (Date.now() - readAt > this.orphanGraceMs / 4) continue;
      }
      const record: SegmentRecord = {
        view,
        version,
        day: file.day,
        segmentId: id,
        blobPath,
        etag,
        sizeBytes,
        ...pickFacts(facts),
        lineage: facts.lineage,
        committedAt: Date.now(),
        state: 'live',
      };
      const status = await commit(record);
      if (status === 'committed') return { ...base, rowCount: facts.rowCount, status, record };
      // Not committed by us. If our upload is not the blob the manifest names (the id was
      // committed, compacted away and its blob collected; or the commit lost a race), remove
      // what we just created.
      const row = await this.manifest.get(view, version, file.day, id);
      if (up.status === 'uploaded' && row?.etag !== etag) await deleteIfUnchanged(this.container, blobPath, etag);
      return { ...base, status };
    }
    throw new ConflictError(
      `segment ${id} of ${view}/${version} could not be committed after ${MAX_WRITE_ATTEMPTS} attempts (its blob kept changing); retry the write`,
    );
  }

  /** Live segments of a view overlapping [from, to), for one version (see SegmentQuery). */
  async listSegments(view: string, query: SegmentQuery = {}): Promise<SegmentRecord[]> {
    return (await this.resolve(view, query)).segments;
  }

  /** The newest definition version with segments in the range: the one that appeared last. */
  async latestVersion(view: string, range: EventRange = {}): Promise<string | undefined> {
    return (await this.resolve(view, range)).version;
  }

  /**
   * The live segments of a view/range as local Parquet files (downloaded into the cache as
   * needed): what point-in-time joins and backfills hand to DuckDB's read_parquet([...]).
   */
  async localFiles(view: string, query: SegmentQuery = {}): Promise<LocalSegments> {
    for (let attempt = 1; ; attempt++) {
      const { version, segments } = await this.resolve(view, query);
      try {
        const files = await this.cache.fetchAll(
          segments.map((s) => ({ container: OFFLINE_CONTAINER, blobPath: s.blobPath, etag: s.etag })),
        );
        return { version, segments, files };
      } catch (e) {
        // A segment was compacted away and collected after we listed it: list again.
        if (!(e instanceof StaleBlobError) || attempt >= MAX_READ_ATTEMPTS) throw e;
      }
    }
  }

  /**
   * The rows of a view with event_ts in [from, to), ordered by (entity_id, event_ts,
   * created_ts); `asOf` keeps only rows that had arrived by then (created_ts <= asOf).
   * `newestPerEntity`: only each entity's rows at its newest event_ts in the range (every version
   * at that time), chosen in DuckDB: the row in force at `to` without reading the history into JS.
   */
  async readRows(
    view: string,
    query: SegmentQuery & { asOf?: number; newestPerEntity?: boolean } = {},
  ): Promise<FeatureRow[]> {
    const { files } = await this.localFiles(view, {
      ...query,
      ...(query.asOf !== undefined ? { arrivedBy: query.asOf } : {}),
    });
    if (files.length === 0) return [];
    const where = [
      query.from !== undefined ? `event_ts >= ${Math.floor(query.from)}` : undefined,
      query.to !== undefined ? `event_ts < ${Math.ceil(query.to)}` : undefined,
      query.asOf !== undefined ? `created_ts <= ${Math.floor(query.asOf)}` : undefined,
    ].filter(Boolean);
    const newest = query.newestPerEntity ? 'QUALIFY event_ts = max(event_ts) OVER (PARTITION BY entity_id)' : '';
    return withConnection((c) =>
      selectRows(
        c,
        `SELECT * FROM read_parquet(${fileList(files)}, union_by_name = true) ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ${newest} ORDER BY entity_id, event_ts, created_ts`,
      ),
    );
  }

  /**
   * The rows of one committed segment, or of the compaction that holds them now ([] when it
   * was retracted): what a replay of a batch's rows reads.
   */
  async segmentRows(view: string, version: string, day: string, segmentId: string): Promise<FeatureRow[]> {
    let record = await this.manifest.get(view, version, day, segmentId);
    for (let hops = 0; record?.state === 'superseded' && record.supersededBy && hops < 8; hops++)
      record = await this.manifest.get(view, version, day, record.supersededBy);
    if (!record || record.state !== 'live') return [];
    const [file] = await this.cache.fetchAll([
      { container: OFFLINE_CONTAINER, blobPath: record.blobPath, etag: record.etag },
    ]);
    return withConnection((c) =>
      selectRows(c, `SELECT * FROM read_parquet(${literal(file!)}) ORDER BY entity_id, event_ts, created_ts`),
    );
  }

  private async resolve(
    view: string,
    query: SegmentQuery,
  ): Promise<{ version: string | undefined; segments: SegmentRecord[] }> {
    assertName('view', view);
    if (query.version !== undefined) assertName('version', query.version);
    const fromDay = query.from !== undefined ? eventDay(query.from) : undefined;
    const toDay = query.to !== undefined ? eventDay(query.to - 1) : undefined;
    const rows = await this.manifest.live({
      view,
      ...(query.version !== undefined ? { version: query.version } : {}),
      ...(fromDay ? { fromDay } : {}),
      ...(toDay ? { toDay } : {}),
    });
    const inRange = rows.filter(
      (r) =>
        (query.from === undefined || r.maxEventTs >= query.from) && (query.to === undefined || r.minEventTs < query.to),
    );
    const version = query.version ?? newestVersion(inRange);
    const segments = inRange
      .filter(
        (r) =>
          r.version === version &&
          (query.arrivedBy === undefined || r.minCreatedTs <= query.arrivedBy) &&
          (query.arrivedSince === undefined || r.maxCreatedTs >= query.arrivedSince),
      )
      .sort(
        (a, b) => a.day.localeCompare(b.day) || a.committedAt - b.committedAt || a.segmentId.localeCompare(b.segmentId),
      )
      .map(stripEtag);
    return { version, segments };
  }

  /**
   * The segments this input already committed for a view and version, by day, among `days`
   * (whatever their state now): a redelivered batch or a re-run job step finds its own.
   */
  async committedSegments(
    view: string,
    version: string,
    input: SegmentInput,
    days: readonly string[],
  ): Promise<Map<string, SegmentRecord>> {
    const found = await Promise.all(
      days.map((day) => this.manifest.get(view, version, day, segmentId(input, view, version, day))),
    );
    return new Map(found.flatMap((r, i) => (r ? [[days[i]!, stripEtag(r)] as const] : [])));
  }

  /**
   * Whether the segment of `input` for each of `days` is in the manifest: one lookup per day, all
   * at once. A caller that will write several views of one batch looks them all up together and
   * passes each view's answer to writeRows (`committed`).
   */
  async lookUpDays(
    view: string,
    version: string,
    input: SegmentInput,
    days: Iterable<string>,
  ): Promise<Map<string, boolean>> {
    const list = [...days];
    const found = await this.committedSegments(view, version, input, list);
    return new Map(list.map((day) => [day, found.has(day)]));
  }

  /** The days of `days` whose segment for this input is already in the manifest. */
  private async committedDays(spec: SegmentSpec, days: readonly string[]): Promise<Set<string>> {
    return new Set((await this.committedSegments(spec.view, spec.version, spec.lineage.input, days)).keys());
  }

  private alreadyCommitted(spec: SegmentSpec, day: string, rowCount: number): SegmentCommit {
    const id = segmentId(spec.lineage.input, spec.view, spec.version, day);
    return {
      segmentId: id,
      day,
      blobPath: segmentBlobPath(spec.view, spec.version, day, id),
      rowCount,
      status: 'already-committed',
    };
  }

  /** Stage, write the day files not committed yet, upload and commit them. */
  private async writeStaged(
    spec: SegmentSpec,
    stage: (c: DuckDBConnection, table: string) => Promise<void>,
    known?: Set<string>,
    beforeCommit?: () => Promise<void>,
  ): Promise<WriteResult> {
    const dir = path.join(this.workDir, `strata-segment-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      const { done, files } = await withConnection(async (c) => {
        await stage(c, 'segment_rows');
        const days = await stagedDays(c, 'segment_rows');
        const committed =
          known ??
          (await this.committedDays(
            spec,
            days.map((d) => d.day),
          ));
        const files: DayFile[] = [];
        for (const d of days)
          if (!committed.has(d.day)) files.push(await writeDayFile(c, 'segment_rows', spec.columns, d, dir, spec.view));
        return {
          done: days.filter((d) => committed.has(d.day)).map((d) => this.alreadyCommitted(spec, d.day, d.rowCount)),
          files,
        };
      });
      let segments: SegmentCommit[] = new Array(files.length);
      if (files.length + done.length > 1 && files.length > 0) {
        // Several days: one rendering for the whole batch (batch-claim.ts).
        await beforeCommit?.();
        segments = await commitClaimed(this, spec, files);
      } else {
        // Every upload has settled before the finally below removes the files they read.
        await forEachLimit(files, COMMIT_CONCURRENCY, async (file, i) => {
          segments[i] = await this.commitDayFile(spec.view, spec.version, spec.lineage, file, {
            checked: true,
            ...(beforeCommit ? { beforeCommit } : {}),
          });
        });
      }
      const claimed = new Set(segments.map((s) => s.day));
      const all = [...done.filter((d) => !claimed.has(d.day)), ...segments].sort((a, b) => a.day.localeCompare(b.day));
      return {
        segments: all,
        rowsCommitted: segments.reduce((n, s) => n + (s.status === 'committed' ? s.rowCount : 0), 0),
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

function checkSpec(spec: SegmentSpec): void {
  assertName('view', spec.view);
  assertName('version', spec.version);
  assertColumns(spec.columns);
}

function pickFacts(f: SegmentStats): SegmentStats {
  const { rowCount, minEventTs, maxEventTs, minCreatedTs, maxCreatedTs, minLagMs, maxLagMs } = f;
  return { rowCount, minEventTs, maxEventTs, minCreatedTs, maxCreatedTs, minLagMs, maxLagMs };
}

/** The version that first appeared most recently: a new definition starts after the old one. */
function newestVersion(rows: readonly SegmentRecord[]): string | undefined {
  const firstSeen = new Map<string, number>();
  for (const r of rows) firstSeen.set(r.version, Math.min(firstSeen.get(r.version) ?? Infinity, r.committedAt));
  let best: string | undefined;
  for (const [v, t] of firstSeen) if (best === undefined || t > firstSeen.get(best)!) best = v;
  return best;
}

function stripEtag(e: ManifestEntry): SegmentRecord {
  const { rowEtag: _rowEtag, ...rest } = e;
  return rest;
}

/** Segment-shaped rows (entity_id, event_ts, created_ts, features...) of a query as FeatureRows. */
export async function selectRows(c: DuckDBConnection, sql: string): Promise<FeatureRow[]> {
  const r = await c.runAndReadAll(sql);
  const names = r.columnNames();
  const out: FeatureRow[] = [];
  for (const row of r.getRows()) {
    const values: Record<string, FeatureValue> = {};
    for (let k = 3; k < names.length; k++) values[names[k]!] = jsValue(row[k]);
    out.push({ entityId: String(row[0]), eventTs: num(row[1]), createdTs: num(row[2]), values });
  }
  return out;
}

/** A DuckDB value as a feature value (BIGINT -> number, anything else unusual -> text). */
export function jsValue(v: unknown): FeatureValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}
