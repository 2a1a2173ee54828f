/**
 * Ids of ingest batches: what names a batch's dead letters and its online-backlog entry. Each
 * is a hash of the batch's identity (its input, never the clock or the attempt), so a
 * redelivered batch overwrites its own dead letters and finds its own backlog entry. Frozen
 * by test/unit/stored-ids.test.ts: they are stored.
 *
 *   ingestBatchId(input)                   an Event Hubs range, a file's hash, a job step
 *   flushBatchId(until)                    an event-clock flush to `until`
 *   repairBatchId(repairKey, segmentIds)   the dead letters of a future-records repair
 */
import { canonicalJson, sha256Hex } from '../../canonical-json';
import type { SegmentInput } from '../offline/types';

export function ingestBatchId(input: SegmentInput): string {
  return sha256Hex(canonicalJson(input)).slice(0, 32);
}

/** The pending-result key of a flush, and the hash that is its batch id. */
export function flushKey(until: number): string {
  return `flush:${Math.floor(until)}`;
}

export function flushBatchId(until: number): string {
  return sha256Hex(flushKey(until)).slice(0, 32);
}

export function repairBatchId(repairKey: string, segmentIds: readonly string[]): string {
  return sha256Hex(canonicalJson([repairKey, [...segmentIds].sort()])).slice(0, 32);
}
