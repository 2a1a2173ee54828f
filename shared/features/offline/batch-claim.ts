/**
 * One rendering per batch. A batch whose rows span several event days is several segments, one
 * manifest row each, in different Table partitions: no transaction covers them. Two writers of
 * the same input at once (Event Hubs redelivering to a second instance, a file uploaded twice)
 * would otherwise commit some days each, and the batch would read as a mix of two renderings
 * (different created_ts, possibly different rows). So a multi-day write is claimed:
 *   1. each writer uploads its day files to paths of its own (`<segmentId>.<claim>-<rendering>.parquet`),
 *      so writers never race on a blob;
 *   2. it creates the batch's claim blob (`.claims/<view>/<version>/<claim>.json`, write-once)
 *      listing the manifest records of every day of its rendering; the first writer's claim wins;
 *   3. whoever holds or finds a claim commits exactly its records (manifest rows are insert-only,
 *      so the winner and the losers committing the same records commit each once); a loser
 *      deletes its own uploads.
 * A claim is kept: a later delivery of the input, whatever days its rendering has, completes
 * the claimed rendering (after a crash between claim and commits) and adds nothing of its own.
 * gcOrphans keeps the uncommitted blobs a claim names. A write of a single day needs no claim:
 * one segment commits atomically.
 *
 *   commitClaimed(store, spec, files) -> SegmentCommit[]
 */
import { randomBytes } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { ConflictError } from '../../errors';
import { forEachLimit } from '../../concurrency';
import type { DayFile } from './segment-file';
import { deleteIfUnchanged, uploadOnce } from './segment-blobs';
import { segmentId } from './segment-id';
import { canonicalJson, sha256Hex } from '../../canonical-json';
import type { Manifest } from './manifest';

/** Where a claim is committed: the offline container and the manifest (the offline store passes itself). */
export interface ClaimTarget {
  container: ContainerClient;
  manifest: Manifest;
}
import type { SegmentCommit, SegmentInput, SegmentRecord, SegmentSpec } from './types';
import { isNotFound, isTaken } from '../../azure/status';

const UPLOAD_CONCURRENCY = 4;

interface Claim {
  rendering: string;
  records: SegmentRecord[];
}

/** The claim's id: a hash of the input, view and version (the batch, not a day of it). */
export function claimId(input: SegmentInput, view: string, version: string): string {
  return sha256Hex(canonicalJson(['strata-claim-v1', segmentId(input, view, version, '*'), view, version])).slice(
    0,
    32,
  );
}

/** Outside every view's prefix (a view name never starts with "."), so listings of segments never meet claims. */
export function claimBlobPath(view: string, version: string, id: string): string {
  return `.claims/${view}/${version}/${id}.json`;
}

/** Commit the day files of one multi-day write as one rendering: this writer's, or the one that claimed the batch first. */
export async function commitClaimed(
  store: ClaimTarget,
  spec: SegmentSpec,
  files: readonly DayFile[],
): Promise<SegmentCommit[]> {
  const id = claimId(spec.lineage.input, spec.view, spec.version);
  const path = claimBlobPath(spec.view, spec.version, id);
  const found = await readClaim(store.container, path);
  if (found) return commitRecords(store, found);

  const rendering = randomBytes(8).toString('hex');
  const records: SegmentRecord[] = new Array(files.length);
  await forEachLimit(files, UPLOAD_CONCURRENCY, async (file, i) => {
    const sid = segmentId(spec.lineage.input, spec.view, spec.version, file.day);
    const blobPath = `${spec.view}/${spec.version}/${file.day}/${sid}.${id}-${rendering}.parquet`;
    const { file: _file, day: _day, sizeBytes, ...stats } = file;
    const up = await uploadOnce(store.container, blobPath, file.file, { ...stats, lineage: spec.lineage });
    if (up.status !== 'uploaded') throw new ConflictError(`blob ${blobPath} exists already; retry the write`);
    records[i] = {
      view: spec.view,
      version: spec.version,
      day: file.day,
      segmentId: sid,
      blobPath,
      etag: up.etag,
      sizeBytes,
      ...stats,
      lineage: spec.lineage,
      committedAt: Date.now(),
      state: 'live',
    };
  });
  const ours: Claim = { rendering, records };
  const body = JSON.stringify(ours);
  try {
    await store.container.getBlockBlobClient(path).upload(body, Buffer.byteLength(body), {
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
    return await commitRecords(store, ours);
  } catch (e) {
    if (!isTaken(e)) throw e;
    // Another writer claimed the batch first: its rendering is the batch; ours goes.
    await forEachLimit(
      records,
      UPLOAD_CONCURRENCY,
      async (r) => void (await deleteIfUnchanged(store.container, r.blobPath, r.etag)),
    );
    const theirs = await readClaim(store.container, path);
    if (!theirs) throw new ConflictError(`the claim ${path} was taken but cannot be read; retry the write`);
    return commitRecords(store, theirs);
  }
}

/** The claim of a batch, if one was made. */
export async function readClaim(container: ContainerClient, path: string): Promise<Claim | undefined> {
  try {
    return JSON.parse((await container.getBlockBlobClient(path).downloadToBuffer()).toString('utf8')) as Claim;
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function commitRecords(store: ClaimTarget, claim: Claim): Promise<SegmentCommit[]> {
  const out: SegmentCommit[] = new Array(claim.records.length);
  await forEachLimit(claim.records, UPLOAD_CONCURRENCY, async (r, i) => {
    const status = await store.manifest.commit({ ...r, committedAt: Date.now() });
    out[i] = { segmentId: r.segmentId, day: r.day, blobPath: r.blobPath, rowCount: r.rowCount, status };
  });
  return out.sort((a, b) => a.day.localeCompare(b.day));
}
