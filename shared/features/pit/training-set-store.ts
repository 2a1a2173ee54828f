/**
 * Where training sets are kept: each set's record (`<id>.json`, what the build recorded) and
 * its data files (the Parquet file it was built as, the CSV made from it on first request).
 * Sets are immutable, so records are write-once and files are written once; only the
 * version keys of a record may be filled in later (lineage/versions.ts), under its token.
 * Kept by shared/azure/training-set-blobs.ts (container `training-sets`) and shared/memory/.
 *
 *   readRecord(id)                         the record, or undefined
 *   createRecord(record)                   'taken' when a record with its id exists
 *   records()                              every record with its token (records that are not JSON are left out)
 *   replaceRecord(record, token)           if unchanged since read: its new token, else 'conflict'
 *   fileInfo(name)                         a data file's size and etag, or undefined
 *   putFileOnce(name, localPath)           upload unless a file of that name exists (the same bytes)
 *   downloadFile(name, localPath, etag)    to a local file, if still at etag
 *   readRange(name, start, count, etag)    bytes [start, start + count), or 'changed' when no longer at etag
 */
import type { KnownAt } from './join';

/** One segment a set read (the manifest's key and the blob version read). */
export interface SegmentUse {
  view: string;
  version: string;
  day: string;
  segmentId: string;
  blobPath: string;
  etag: string;
}

export interface TrainingSetResult {
  id: string;
  container: string;
  /** Path of the Parquet file inside the container. */
  blobPath: string;
  /** Path of the JSON record (this object) inside the container. */
  recordPath: string;
  rowCount: number;
  columnCount: number;
  columns: Array<{ name: string; type: string }>;
  views: Array<{ view: string; version: string; features: string[]; ttlMs: number | null }>;
  segmentsUsed: SegmentUse[];
  knownAt: KnownAt;
  asOf: number | null;
  spine: { rowCount: number; identity: string };
  /** sha256 of what the request means (not of when or by whom it was built): same identity, same set. */
  identity?: string;
  jobId: string | null;
  builtAt: number;
}

/** A stored record as read back: records from older builds lack some fields (lineage fills in versions). */
export type TrainingSetRecord = Partial<TrainingSetResult> & {
  id: string;
  params?: Record<string, string | number | boolean>;
};

export interface TrainingSetStore {
  readRecord(id: string): Promise<TrainingSetResult | undefined>;
  createRecord(record: TrainingSetResult): Promise<'created' | 'taken'>;
  records(): Promise<Array<{ record: TrainingSetRecord; token: string }>>;
  replaceRecord(record: TrainingSetRecord, token: string): Promise<{ token: string } | 'conflict'>;
  fileInfo(name: string): Promise<{ size: number; etag: string } | undefined>;
  putFileOnce(name: string, localPath: string): Promise<void>;
  downloadFile(name: string, localPath: string, etag: string): Promise<void>;
  readRange(name: string, start: number, count: number, etag: string): Promise<Buffer | 'changed'>;
}

/** Content types of the data files, by extension. */
export const DATA_CONTENT_TYPES: Record<string, string> = {
  parquet: 'application/vnd.apache.parquet',
  csv: 'text/csv; charset=utf-8',
};

export const contentTypeOf = (name: string): string =>
  DATA_CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
