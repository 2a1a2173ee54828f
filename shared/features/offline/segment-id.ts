/**
 * Deterministic names for segments: the id is a hash of the segment's input (never of its
 * content or of the clock), so at-least-once delivery has an exactly-once effect.
 */
import { createHash } from 'node:crypto';
import { checkName } from '../../names';
import type { SegmentInput } from './types';

const DAY_MS = 86_400_000;
/** View and version names become Table keys and blob path parts: the name rules of shared/names.ts. */
export function assertName(kind: 'view' | 'version', value: string): void {
  checkName(kind === 'view' ? 'storedView' : 'version', value, kind);
}

/** The UTC day of an event time, yyyy-mm-dd: the offline store's partition. */
export function eventDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

/** Start (inclusive) of a yyyy-mm-dd day, epoch ms. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00.000Z`);
}

/** JSON with object keys sorted, so equal inputs hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
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
  return createHash('sha256')
    .update(canonicalJson(['strata-segment-v1', identityOf(input), view, version, day]))
    .digest('hex')
    .slice(0, 32);
}

/** `<view>/<version>/<yyyy-mm-dd>/<segmentId>.parquet` inside the `offline` container. */
export function segmentBlobPath(view: string, version: string, day: string, id: string): string {
  return `${view}/${version}/${day}/${id}.parquet`;
}

/**
 * The inverse of segmentBlobPath, and of a claimed rendering's path
 * (`<segmentId>.<claimId>-<rendering>.parquet`, batch-claim.ts); undefined for paths the store did not write.
 */
export function parseSegmentBlobPath(path: string): { view: string; version: string; day: string; segmentId: string; claimId?: string } | undefined {
  const m = /^([^/]+)\/([^/]+)\/(\d{4}-\d{2}-\d{2})\/([0-9a-f]{32})(?:\.([0-9a-f]{32})-[0-9a-f]{16})?\.parquet$/.exec(path);
  if (!m) return undefined;
  return { view: m[1]!, version: m[2]!, day: m[3]!, segmentId: m[4]!, ...(m[5] ? { claimId: m[5] } : {}) };
}

/** sha256 of a file's bytes, for `{kind: 'file'}` inputs. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
