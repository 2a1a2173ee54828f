/**
 * Segment blobs are write-once: uploaded with If-None-Match: * at a path named by the
 * segment id, never overwritten. Whoever commits a segment id therefore commits the same
 * bytes (the first upload), even when several writers race on a redelivered batch. What
 * the manifest needs to know about a blob travels with it as metadata, so a writer that
 * finds someone else's upload (a crashed writer's orphan, or a concurrent writer's) can
 * commit that blob without reading it.
 */
import type { ContainerClient } from '@azure/storage-blob';
import type { SegmentLineage, SegmentStats } from './types';
import { isNotFound, isTaken, statusOf } from '../../azure/status';

export const OFFLINE_CONTAINER = 'offline';

/** Manifest facts stored on the blob. */
export interface SegmentBlobFacts extends SegmentStats {
  lineage: SegmentLineage;
}

export interface BlobVersion {
  etag: string;
  sizeBytes: number;
  /** Server clock: when the blob was written, and "now" as the server answered. */
  lastModified: number;
  serverNow: number;
  facts: SegmentBlobFacts | undefined;
}

function toMetadata(f: SegmentBlobFacts): Record<string, string> {
  return {
    strata_rows: String(f.rowCount),
    strata_min_event: String(f.minEventTs),
    strata_max_event: String(f.maxEventTs),
    strata_min_created: String(f.minCreatedTs),
    strata_max_created: String(f.maxCreatedTs),
    strata_min_lag: String(f.minLagMs),
    strata_max_lag: String(f.maxLagMs),
    // Header values must be ASCII: lineage JSON goes as base64url.
    strata_lineage: Buffer.from(JSON.stringify(f.lineage)).toString('base64url'),
  };
}

function fromMetadata(m: Record<string, string> | undefined): SegmentBlobFacts | undefined {
  if (!m?.strata_rows || !m.strata_lineage) return undefined;
  return {
    rowCount: Number(m.strata_rows),
    minEventTs: Number(m.strata_min_event),
    maxEventTs: Number(m.strata_max_event),
    minCreatedTs: Number(m.strata_min_created),
    maxCreatedTs: Number(m.strata_max_created),
    minLagMs: Number(m.strata_min_lag),
    maxLagMs: Number(m.strata_max_lag),
    lineage: JSON.parse(Buffer.from(m.strata_lineage, 'base64url').toString('utf8')) as SegmentBlobFacts['lineage'],
  };
}

/** Blob listings give ETags without quotes, properties and uploads with them: compare quoted. */
export function quotedEtag(etag: string): string {
  return etag.startsWith('"') || etag.startsWith('W/') ? etag : `"${etag}"`;
}

/** Upload unless a blob already exists at the path: 'exists' when someone was first. */
export async function uploadOnce(
  container: ContainerClient,
  blobPath: string,
  file: string,
  facts: SegmentBlobFacts,
): Promise<{ status: 'uploaded'; etag: string } | { status: 'exists' }> {
  try {
    const r = await container.getBlockBlobClient(blobPath).uploadFile(file, {
      conditions: { ifNoneMatch: '*' },
      metadata: toMetadata(facts),
      blobHTTPHeaders: { blobContentType: 'application/vnd.apache.parquet' },
    });
    return { status: 'uploaded', etag: r.etag! };
  } catch (e) {
    if (isTaken(e)) return { status: 'exists' };
    throw e;
  }
}

/** The blob's current version, or undefined when there is none. */
export async function blobVersion(container: ContainerClient, blobPath: string): Promise<BlobVersion | undefined> {
  try {
    const p = await container.getBlockBlobClient(blobPath).getProperties();
    return {
      etag: p.etag!,
      sizeBytes: p.contentLength ?? 0,
      lastModified: p.lastModified?.getTime() ?? 0,
      serverNow: p.date?.getTime() ?? Date.now(),
      facts: fromMetadata(p.metadata),
    };
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Delete only the version we looked at; false when it changed or is gone meanwhile. */
export async function deleteIfUnchanged(container: ContainerClient, blobPath: string, etag: string): Promise<boolean> {
  try {
    await container.getBlockBlobClient(blobPath).delete({ conditions: { ifMatch: etag } });
    return true;
  } catch (e) {
    if (isNotFound(e) || statusOf(e) === 412) return false;
    throw e;
  }
}

/** The server's clock ("now" as Blob storage sees it), so age checks ignore local clock skew. */
export async function serverNow(container: ContainerClient): Promise<number> {
  const p = await container.getProperties();
  return p.date?.getTime() ?? Date.now();
}
