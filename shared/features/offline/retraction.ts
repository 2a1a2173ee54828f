/**
 * Retraction: rows taken out of the offline store, for the rare repair where stored rows are
 * wrong as such (records dated far in the future, and the rows computed on the clock they moved:
 * features/ingest/future-records.ts). Segments are immutable, so a segment holding rows to retract is
 * replaced, atomically, like a compaction with one input: a filtered copy is uploaded
 * (write-once, invisible) and one transaction inserts its manifest row and supersedes the old
 * one; when no row stays, the old row is superseded with no replacement. Readers see the old
 * segment or the new state; the old row stays as a tombstone, so a redelivered batch whose
 * segment was retracted is still a no-op.
 *
 *   retractRows(store, segment, keep, { key, jobId? }) -> { status, removed }
 *
 * `keep` is a DuckDB predicate over the segment's columns; callers build it from numbers only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FeatureRow } from '../definitions/values';
import { literal, withConnection } from './duckdb';
import type { ManifestEntry } from './manifest';
import { OFFLINE_CONTAINER } from './segment-blobs';
import { fileStats, segmentOrder } from './segment-file';
import { selectRows, type OfflineStore } from './store';
import type { SegmentLineage } from './types';

export interface RetractionResult {
  /** `unchanged`: every row is kept. `conflict`: the segment changed meanwhile (run again). */
  status: 'unchanged' | 'rewritten' | 'retracted' | 'conflict';
  /** The rows taken out (none unless rewritten or retracted). */
  removed: FeatureRow[];
  /** The newest event time among the rows kept (null: none kept). */
  keptMaxEventTs: number | null;
  /** The filtered copy that replaced the segment (status rewritten). */
  replacedBy?: string;
}

/** Take the rows of one live segment that fail `keep` out of the store. */
export async function retractRows(
  store: OfflineStore,
  segment: ManifestEntry,
  keep: string,
  opts: { key: string; jobId?: string; dryRun?: boolean },
): Promise<RetractionResult> {
  const [file] = await store.cache.fetchAll([
    { container: OFFLINE_CONTAINER, blobPath: segment.blobPath, etag: segment.etag },
  ]);
  const dir = path.join(os.tmpdir(), `strata-retract-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    return await withConnection(async (c) => {
      const from = `read_parquet(${literal(file!)})`;
      const removed = await selectRows(
        c,
        `SELECT * FROM ${from} WHERE NOT (${keep}) ORDER BY entity_id, event_ts, created_ts`,
      );
      const kept = (await c.runAndReadAll(`SELECT max(event_ts) FROM ${from} WHERE ${keep}`)).getRows()[0]![0];
      const keptMaxEventTs = kept === null || kept === undefined ? null : Number(kept);
      if (removed.length === 0) return { status: 'unchanged' as const, removed, keptMaxEventTs };
      if (opts.dryRun)
        return {
          status: keptMaxEventTs === null ? ('retracted' as const) : ('rewritten' as const),
          removed,
          keptMaxEventTs,
        };
      if (keptMaxEventTs === null) {
        const status = await store.manifest.retract(segment, opts.key);
        return status === 'committed'
          ? { status: 'retracted' as const, removed, keptMaxEventTs }
          : { status: 'conflict' as const, removed: [], keptMaxEventTs };
      }
      fs.mkdirSync(dir, { recursive: true });
      const out = path.join(dir, `${segment.day}.parquet`);
      await c.run(
        `COPY (SELECT * FROM ${from} WHERE ${keep} ORDER BY ${segmentOrder(segment.view)}) TO ${literal(out)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      const copy = { day: segment.day, file: out, sizeBytes: fs.statSync(out).size, ...(await fileStats(c, out)) };
      const lineage: SegmentLineage = {
        input: { kind: 'job', key: `${opts.key}:${segment.segmentId}`, inputs: [segment.segmentId] },
        ...(opts.jobId ? { jobId: opts.jobId } : {}),
      };
      const placed = await store.placeSegment(segment.view, segment.version, lineage, copy, (record) =>
        store.manifest.replace(record, [segment]),
      );
      if (placed.status === 'conflict') return { status: 'conflict' as const, removed: [], keptMaxEventTs };
      return { status: 'rewritten' as const, removed, keptMaxEventTs, replacedBy: placed.segmentId };
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
