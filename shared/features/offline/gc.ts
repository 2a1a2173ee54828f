/**
 * Garbage collection of segment blobs no live manifest row names: orphans (uploaded, never
 * committed: a writer crashed between upload and commit) and segments a compaction
 * replaced. Both are kept for a grace period first: a retrying writer may still commit an
 * orphan, and a reader that listed the old set may still be downloading it. Ages come from
 * the storage service's clock, and each delete applies only to the blob version that was
 * judged (If-Match), so a blob rewritten meanwhile is left alone. A claimed rendering's blob
 * that is not committed yet stays (the next delivery of its batch commits it: batch-claim.ts).
 */
import { assertName, parseSegmentBlobPath } from './segment-id';
import { deleteIfUnchanged, quotedEtag, serverNow } from './segment-blobs';
import { claimBlobPath, readClaim } from './batch-claim';
import type { OfflineStore } from './store';

export interface GcOptions {
  /** Only blobs older than this (and replaced longer ago than this) go. Default: the store's orphanGraceMs. */
  graceMs?: number;
  /** Limit to one view. */
  view?: string;
  /** Report what would go without deleting. */
  dryRun?: boolean;
}

export interface GcResult {
  /** Blob paths with no manifest row, older than the grace period. */
  orphansDeleted: string[];
  /** Blob paths of segments superseded by a compaction longer ago than the grace period. */
  supersededDeleted: string[];
  /** Segment blobs left in place (live, or still within the grace period). */
  kept: number;
}

export async function gcOrphans(store: OfflineStore, opts: GcOptions = {}): Promise<GcResult> {
  if (opts.view !== undefined) assertName('view', opts.view);
  const grace = opts.graceMs ?? store.orphanGraceMs;
  const rows = await store.manifest.list(opts.view !== undefined ? { view: opts.view } : {});
  const byPath = new Map(rows.map((r) => [r.blobPath, r]));
  const committedIds = new Set(rows.map((r) => `${r.view}/${r.version}/${r.day}/${r.segmentId}`));
  const claims = new Map<string, Promise<Set<string>>>();
  /** A claimed rendering's blob not committed yet: a delivery of its batch will commit it (batch-claim.ts). */
  const claimedAndPending = async (
    p: { view: string; version: string; day: string; segmentId: string; claimId?: string },
    name: string,
  ) => {
    if (!p.claimId || committedIds.has(`${p.view}/${p.version}/${p.day}/${p.segmentId}`)) return false;
    const path = claimBlobPath(p.view, p.version, p.claimId);
    let names = claims.get(path);
    if (!names)
      claims.set(
        path,
        (names = readClaim(store.container, path).then((c) => new Set(c?.records.map((r) => r.blobPath) ?? []))),
      );
    return (await names).has(name);
  };
  const now = await serverNow(store.container);
  const result: GcResult = { orphansDeleted: [], supersededDeleted: [], kept: 0 };
  const prefix = opts.view !== undefined ? `${opts.view}/` : undefined;
  for await (const blob of store.container.listBlobsFlat(prefix ? { prefix } : {})) {
    const parsed = parseSegmentBlobPath(blob.name);
    if (!parsed) continue;
    const age = now - blob.properties.lastModified.getTime();
    const etag = quotedEtag(blob.properties.etag);
    const row = byPath.get(blob.name);
    let bucket: string[] | undefined;
    if (age <= grace) bucket = undefined;
    else if (!row) bucket = (await claimedAndPending(parsed, blob.name)) ? undefined : result.orphansDeleted;
    else if (row.state === 'superseded' && row.changedAt !== undefined && now - row.changedAt > grace)
      bucket = result.supersededDeleted;
    else if (row.state === 'superseded' && row.etag !== etag) bucket = result.orphansDeleted; // re-uploaded after its row became a tombstone
    if (bucket && (opts.dryRun || (await deleteIfUnchanged(store.container, blob.name, etag)))) bucket.push(blob.name);
    else result.kept++;
  }
  return result;
}
