/**
 * Compaction: many small segments of one view/version/day become one, atomically. The merged
 * file is uploaded first (write-once, invisible), then one Table transaction in the day's
 * partition inserts its manifest row and marks every input superseded (each only if
 * unchanged since listed). Readers see the old set or the new set; the old blobs stay
 * readable for the orphan grace period, so a reader that listed the old set can finish.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { StaleBlobError } from './cache';
import { withConnection } from './duckdb';
import { MAX_COMPACTION_INPUTS } from './manifest';
import { OFFLINE_CONTAINER } from './segment-blobs';
import { mergeFiles } from './segment-file';
import { assertName, eventDay } from './segment-id';
import type { OfflineStore } from './store';
import type { EventRange, SegmentLineage } from './types';

export interface CompactionOptions {
  /** Segments with fewer rows than this are small enough to merge. Default 1,000,000. */
  smallRows?: number;
  /** Merge only when at least this many small segments exist. Default 2. */
  minSegments?: number;
  /** At most this many inputs per merge (a Table transaction holds 100 operations). */
  maxInputs?: number;
  jobId?: string;
}

export interface CompactionResult {
  view: string;
  version: string;
  day: string;
  /**
   * `conflict`: the inputs changed while merging (another compaction won); nothing changed,
   * run again later. `already-compacted`: this exact merge was committed before.
   */
  status: 'compacted' | 'nothing-to-do' | 'already-compacted' | 'conflict';
  mergedSegmentId?: string;
  inputs: string[];
  rowsIn: number;
  rowsOut: number;
}

/** Merge the small live segments of one view/version/day. */
export async function compactDay(
  store: OfflineStore,
  view: string,
  version: string,
  day: string,
  opts: CompactionOptions = {},
): Promise<CompactionResult> {
  assertName('view', view);
  assertName('version', version);
  const smallRows = opts.smallRows ?? 1_000_000;
  const maxInputs = Math.min(opts.maxInputs ?? MAX_COMPACTION_INPUTS, MAX_COMPACTION_INPUTS);
  const live = await store.manifest.live({ view, version, fromDay: day, toDay: day });
  const inputs = live
    .filter((s) => s.rowCount < smallRows)
    .sort((a, b) => a.committedAt - b.committedAt || a.segmentId.localeCompare(b.segmentId))
    .slice(0, maxInputs);
  const base = {
    view,
    version,
    day,
    inputs: inputs.map((i) => i.segmentId),
    rowsIn: inputs.reduce((n, i) => n + i.rowCount, 0),
  };
  if (inputs.length < Math.max(2, opts.minSegments ?? 2)) return { ...base, status: 'nothing-to-do', rowsOut: 0 };

  let files: string[];
  try {
    files = await store.cache.fetchAll(
      inputs.map((i) => ({ container: OFFLINE_CONTAINER, blobPath: i.blobPath, etag: i.etag })),
    );
  } catch (e) {
    if (e instanceof StaleBlobError) return { ...base, status: 'conflict', rowsOut: 0 };
    throw e;
  }
  const dir = path.join(os.tmpdir(), `strata-compact-${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const merged = await withConnection((c) => mergeFiles(c, view, day, files, path.join(dir, `${day}.parquet`)));
    const lineage: SegmentLineage = {
      input: { kind: 'compaction', inputs: [...base.inputs].sort() },
      ...(opts.jobId ? { jobId: opts.jobId } : {}),
    };
    const placed = await store.placeSegment(view, version, lineage, merged, (record) =>
      store.manifest.replace(record, inputs),
    );
    return {
      ...base,
      status:
        placed.status === 'committed' ? 'compacted' : placed.status === 'conflict' ? 'conflict' : 'already-compacted',
      mergedSegmentId: placed.segmentId,
      rowsOut: merged.rowCount,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Compact every day of a view (one version, or each version present) in a range. */
export async function compactView(
  store: OfflineStore,
  view: string,
  query: EventRange & { version?: string } = {},
  opts: CompactionOptions = {},
): Promise<CompactionResult[]> {
  const live = await store.manifest.live({
    view,
    ...(query.version !== undefined ? { version: query.version } : {}),
    ...(query.from !== undefined ? { fromDay: eventDay(query.from) } : {}),
    ...(query.to !== undefined ? { toDay: eventDay(query.to - 1) } : {}),
  });
  const smallRows = opts.smallRows ?? 1_000_000;
  const counts = new Map<string, { version: string; day: string; n: number }>();
  for (const s of live) {
    if (s.rowCount >= smallRows) continue;
    const k = `${s.version}~${s.day}`;
    const c = counts.get(k) ?? { version: s.version, day: s.day, n: 0 };
    c.n++;
    counts.set(k, c);
  }
  const out: CompactionResult[] = [];
  for (const { version, day, n } of [...counts.values()].sort((a, b) => a.day.localeCompare(b.day))) {
    if (n < Math.max(2, opts.minSegments ?? 2)) continue;
    // A day with more small segments than one transaction can replace takes several rounds.
    for (;;) {
      const r = await compactDay(store, view, version, day, opts);
      out.push(r);
      if (
        r.status !== 'compacted' ||
        r.inputs.length < Math.min(opts.maxInputs ?? MAX_COMPACTION_INPUTS, MAX_COMPACTION_INPUTS)
      )
        break;
    }
  }
  return out;
}
