/**
 * The spine of a training job without an entity dataframe: the label events of a label source
 * in the data window, read from the source's own records in the offline store (`src.<source>`),
 * one row per (entity, event time) with the newest arrival winning (a corrected label replaces
 * the first), the label taken from a field (a boolean counts 1/0) or computed by a label
 * expression (1 where it holds, else 0). Ordered by time, then entity, and written as a Parquet
 * file (`spines/train/<id>.parquet`) that the training set reads like any uploaded spine, so
 * the rows never pass through a job's history.
 *
 *   labelWindow(offline, repo, labels, window)   the window's label data as the manifest knows it
 *                                                (segments, rows, newest arrival): the "has the data
 *                                                changed since the last run" fingerprint
 *   writeLabelSpine(offline, spines, repo, labels, window, id)   the spine file (in `spines`, a
 *                                                the FileStore of container `spines`) and its counts
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StrataError } from '../errors';
import type { FeatureRepo } from '../features/definitions/repo';
import { sourceSegmentView } from '../features/ingest/service';
import { fileList, ident, literal, num, withConnection } from '../features/offline/duckdb';
import type { OfflineStore } from '../features/offline/store';
import type { LabelSpec } from './config';
import { pathOf, type FileStore } from '../file-store';
import { contentTypeOf } from '../features/pit/training-set-store';

export const SPINES_CONTAINER = 'spines';

export interface LabelWindow {
  source: string;
  sourceVersion: string;
  from: number;
  to: number;
  segments: number;
  /** Rows of the segments overlapping the window (an upper bound of the label rows). */
  segmentRows: number;
  /** Newest arrival among them, epoch ms (null without segments). */
  newestArrival: number | null;
  /** Hash of the overlapping segments' ids and etags: equal fingerprints, no label arrived or changed. */
  fingerprint: string;
}

export async function labelWindow(
  offline: OfflineStore,
  repo: FeatureRepo,
  labels: LabelSpec,
  window: { from: number; to: number },
): Promise<LabelWindow> {
  const src = repo.source(labels.source);
  const segs = await offline.listSegments(sourceSegmentView(src.name), {
    version: src.version,
    from: window.from,
    to: window.to,
  });
  // Not the bounds: a sliding window over the same records is the same data.
  const h = createHash('sha256').update(`${src.name}/${src.version}`);
  for (const s of [...segs].sort((a, b) => (a.segmentId < b.segmentId ? -1 : 1)))
    h.update(`\n${s.segmentId}:${s.etag}`);
  return {
    source: src.name,
    sourceVersion: src.version,
    from: window.from,
    to: window.to,
    segments: segs.length,
    segmentRows: segs.reduce((n, s) => n + s.rowCount, 0),
    newestArrival: segs.length ? Math.max(...segs.map((s) => s.maxCreatedTs)) : null,
    fingerprint: h.digest('hex').slice(0, 32),
  };
}

/** The SQL value of the label: a field as a number (true = 1), or 1/0 from an expression. */
function labelSql(labels: LabelSpec): string {
  if ('field' in labels) return `CAST(${ident(labels.field)} AS DOUBLE)`;
  const e = labels.expression;
  const value =
    typeof e.value === 'string'
      ? literal(e.value)
      : typeof e.value === 'boolean'
        ? String(e.value)
        : String(Number(e.value));
  const op = e.op === '==' ? '=' : e.op;
  return `CASE WHEN ${ident(e.field)} ${op} ${value} THEN 1.0 ELSE 0.0 END`;
}

export interface LabelSpine {
  /** `spines/train/<id>.parquet`: the training set's spine. */
  blobPath: string;
  rows: number;
  /** Rows with label 1 (binary) or the label sum (regression). */
  labelSum: number;
  minTs: number | null;
  maxTs: number | null;
}

export async function writeLabelSpine(
  offline: OfflineStore,
  spines: FileStore,
  repo: FeatureRepo,
  labels: LabelSpec,
  window: { from: number; to: number },
  id: string,
): Promise<LabelSpine> {
  const src = repo.source(labels.source);
  const { files } = await offline.localFiles(sourceSegmentView(src.name), {
    version: src.version,
    from: window.from,
    to: window.to,
  });
  if (files.length === 0) {
    throw new StrataError(
      `no ${src.name} labels between ${new Date(window.from).toISOString()} and ${new Date(window.to).toISOString()}`,
      404,
      [
        {
          where: 'window',
          problem: `the offline store has no ${src.name} records in it; send labels (hub ${src.stream?.hub ?? '(none)'}) or upload a file, or widen the window`,
        },
      ],
    );
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-spine-'));
  const file = path.join(tmp, 'spine.parquet');
  try {
    const stats = await withConnection(async (c) => {
      await c.run(`CREATE TEMP TABLE spine AS
        SELECT entity_id, event_ts AS ts, ${labelSql(labels)} AS label
        FROM read_parquet(${fileList(files)}, union_by_name = true)
        WHERE event_ts >= ${Math.floor(window.from)} AND event_ts < ${Math.ceil(window.to)}
        QUALIFY row_number() OVER (PARTITION BY entity_id, event_ts ORDER BY created_ts DESC) = 1`);
      await c.run(
        `COPY (SELECT entity_id, CAST(ts AS BIGINT) AS ts, label FROM spine WHERE label IS NOT NULL ORDER BY ts, entity_id) TO ${literal(file)} (FORMAT parquet)`,
      );
      const r = (
        await c.runAndReadAll(
          'SELECT count(*), coalesce(sum(label), 0), min(ts), max(ts) FROM spine WHERE label IS NOT NULL',
        )
      ).getRows()[0]!;
      return {
        rows: num(r[0]),
        labelSum: num(r[1]),
        minTs: r[2] === null ? null : num(r[2]),
        maxTs: r[3] === null ? null : num(r[3]),
      };
    });
    if (stats.rows === 0) {
      throw new StrataError(
        `no ${src.name} labels between ${new Date(window.from).toISOString()} and ${new Date(window.to).toISOString()}`,
        404,
        [
          {
            where: 'window',
            problem: `${src.name} has records near the window but none with a label inside it; widen the window`,
          },
        ],
      );
    }
    const name = `train/${id}.parquet`;
    await spines.putFile(name, file, contentTypeOf(name));
    return { blobPath: pathOf(spines, name), ...stats };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
