/**
 * Deterministic names for segments: the id is a hash of the segment's input (never of its
 * content or of the clock), so at-least-once delivery has an exactly-once effect.
 */
import { canonicalJson, sha256Hex } from '../../canonical-json';
import { checkName } from '../../names';
import type { SegmentInput } from './types';

const DAY_MS = 86_400_000;

/** The offline "view" holding a source's validated records: `src.<source>`. */
const SOURCE_SEGMENT_PREFIX = 'src.';
export const sourceSegmentView = (source: string): string => `${SOURCE_SEGMENT_PREFIX}${source}`;
export const isSourceSegmentView = (view: string): boolean => view.startsWith(SOURCE_SEGMENT_PREFIX);
/** The source whose records a segment view holds; undefined for a feature view. */
export const sourceOfSegmentView = (view: string): string | undefined =>
  isSourceSegmentView(view) ? view.slice(SOURCE_SEGMENT_PREFIX.length) : undefined;

/** View and version names become Table keys and blob path parts: the name rules of shared/names.ts. */
export function assertName(kind: 'view' | 'version', value: string): void {
  checkName(kind === 'view' ? 'storedView' : 'version', value, kind);
}

/**
 * The UTC day of an event time, yyyy-mm-dd: the offline store's partition. Called per record
 * on ingest (ledger, segments), where a batch's records share a day or two: the last day's
 * text is kept, so a record of the same day costs a division, not a Date and an ISO string.
 */
export function eventDay(ms: number): string {
  const d = Math.floor(ms / DAY_MS);
  if (d !== lastDayNumber) {
    lastDayText = new Date(d * DAY_MS).toISOString().slice(0, 10);
    lastDayNumber = d;
  }
  return lastDayText;
}
let lastDayNumber = NaN;
let lastDayText = '';

/** A range longer than this (about 270 years) is a caller's mistake, refused rather than listed day by day. */
const MAX_DAYS_IN_RANGE = 100_000;

/** The UTC days that [from, to) overlaps, in order: the offline store's partitions of a range. */
export function eventDaysIn(from: number, to: number): string[] {
  if (!Number.isFinite(from) || !Number.isFinite(to) || (to - from) / DAY_MS > MAX_DAYS_IN_RANGE)
    throw new RangeError(`eventDaysIn: [${from}, ${to}) is not a range of at most ${MAX_DAYS_IN_RANGE} days`);
  const out: string[] = [];
  for (let t = Math.floor(from / DAY_MS) * DAY_MS; t < to; t += DAY_MS) out.push(eventDay(t));
  return out;
}

/** Start (inclusive) of a yyyy-mm-dd day, epoch ms. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`);
}

/** The part of an input that identifies it (a file's name is a label, not identity). */
function identityOf(input: SegmentInput): unknown {
  switch (input.kind) {
    case 'eventhub':
      return ['eventhub', input.source, input.partition, input.firstSeq, input.lastSeq];
    case 'file':
      return ['file', input.source, input.sha256.toLowerCase()];
    case 'job':
      return ['job', input.key];
    case 'compaction':
      return ['compaction', [...input.inputs].sort()];
  }
}

/**
 * hash(input identity, view, version, day): one input batch spanning several event days
 * becomes one segment per day, each with its own id. 32 hex chars (128 bits).
 */
export function segmentId(input: SegmentInput, view: string, version: string, day: string): string {
  return sha256Hex(canonicalJson(['strata-segment-v1', identityOf(input), view, version, day])).slice(0, 32);
}

/** `<view>/<version>/<yyyy-mm-dd>/<segmentId>.parquet` inside the `offline` container. */
export function segmentBlobPath(view: string, version: string, day: string, id: string): string {
  return `${view}/${version}/${day}/${id}.parquet`;
}

/**
 * The inverse of segmentBlobPath, and of a claimed rendering's path
 * (`<segmentId>.<claimId>-<rendering>.parquet`, batch-claim.ts); undefined for paths the store did not write.
 */
export function parseSegmentBlobPath(
  path: string,
): { view: string; version: string; day: string; segmentId: string; claimId?: string } | undefined {
  const m = /^([^/]+)\/([^/]+)\/(\d{4}-\d{2}-\d{2})\/([0-9a-f]{32})(?:\.([0-9a-f]{32})-[0-9a-f]{16})?\.parquet$/.exec(
    path,
  );
  if (!m) return undefined;
  return { view: m[1]!, version: m[2]!, day: m[3]!, segmentId: m[4]!, ...(m[5] ? { claimId: m[5] } : {}) };
}
