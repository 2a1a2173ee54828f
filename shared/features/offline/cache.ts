/**
 * A local folder of downloaded blobs, keyed by (container, path, ETag). The manifest names
 * the ETag a reader wants; a file is fetched with If-Match on that ETag, so a cached file is
 * exactly the committed version and can be reused forever. A blob that changed since the
 * manifest named it fails with StaleBlobError instead of being served.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ContainerClient } from '@azure/storage-blob';
import type { Storage } from '../../azure/storage';
import { StrataError } from '../../errors';
import { forEachLimit } from '../../concurrency';
import { isNotFound, statusOf } from '../../azure/status';

/** The blob no longer has the ETag asked for (changed or deleted since it was listed). */
export class StaleBlobError extends StrataError {
  constructor(
    readonly container: string,
    readonly blobPath: string,
    readonly etag: string,
  ) {
    super(
      `blob ${container}/${blobPath} no longer has ETag ${etag}: it changed or was removed after it was listed; list again`,
      409,
    );
  }
}

export interface CacheStats {
  hits: number;
  downloads: number;
  bytesDownloaded: number;
}

const DOWNLOAD_CONCURRENCY = 8;

export class BlobCache {
  readonly stats: CacheStats = { hits: 0, downloads: 0, bytesDownloaded: 0 };
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly storage: Storage,
    readonly dir: string,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** A container's client for reading: never creates the container (a missing one reads as 404). */
  readClient(name: string): ContainerClient {
    return this.storage.blobs.getContainerClient(name);
  }

  /** Where (container, path, etag) lives in the cache. */
  fileFor(container: string, blobPath: string, etag: string): string {
    const key = createHash('sha256').update(`${container}/${blobPath}`).digest('hex').slice(0, 32);
    const tag = etag.replace(/[^A-Za-z0-9]/g, '');
    return path.join(this.dir, `${key}-${tag}${path.extname(blobPath)}`);
  }

  /** The local path of that exact blob version, downloading it if not cached. */
  fetch(container: string, blobPath: string, etag: string): Promise<string> {
    const file = this.fileFor(container, blobPath, etag);
    if (fs.existsSync(file)) {
      this.stats.hits++;
      touch(file);
      return Promise.resolve(file);
    }
    let p = this.inFlight.get(file);
    if (!p) {
      p = this.download(container, blobPath, etag, file).finally(() => this.inFlight.delete(file));
      this.inFlight.set(file, p);
    }
    return p;
  }

  /**
   * Keep a local file as the cached copy of the blob version it was just uploaded as (`etag`
   * from the upload's response): the writer's own reader of that segment (the derived view's
   * refresh reads the batch's input segments right after) then finds it here instead of
   * downloading the bytes it just sent. Copied beside the target and renamed, as a download is.
   */
  put(container: string, blobPath: string, etag: string, localFile: string): void {
    const file = this.fileFor(container, blobPath, etag);
    if (fs.existsSync(file)) return;
    const part = `${file}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.copyFileSync(localFile, part);
      fs.renameSync(part, file);
    } catch {
      // Only a cache: a failed copy means the next read downloads the blob.
      fs.rmSync(part, { force: true });
    }
  }

  /** Fetch many, a few downloads at a time, in input order. */
  async fetchAll(items: ReadonlyArray<{ container: string; blobPath: string; etag: string }>): Promise<string[]> {
    const out = new Array<string>(items.length);
    await forEachLimit(items, DOWNLOAD_CONCURRENCY, async (it, i) => {
      out[i] = await this.fetch(it.container, it.blobPath, it.etag);
    });
    return out;
  }

  /** Remove least recently used files until the folder holds at most maxBytes. */
  prune(maxBytes: number): { removed: number; bytes: number } {
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => !f.includes('.part-'))
      .map((f) => {
        const p = path.join(this.dir, f);
        const s = fs.statSync(p);
        return { p, size: s.size, used: s.mtimeMs };
      })
      .sort((a, b) => b.used - a.used);
    let total = 0;
    let removed = 0;
    for (const f of files) {
      total += f.size;
      if (total > maxBytes) {
        fs.rmSync(f.p, { force: true });
        removed++;
      }
    }
    return { removed, bytes: Math.min(total, maxBytes) };
  }

  private async download(container: string, blobPath: string, etag: string, file: string): Promise<string> {
    const client = this.readClient(container).getBlockBlobClient(blobPath);
    // Download beside the target, then rename: a reader never sees a half-written file, and
    // processes sharing the folder can race safely (the rename is atomic, the bytes identical).
    const part = `${file}.part-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      const r = await client.downloadToFile(part, 0, undefined, { conditions: { ifMatch: etag } });
      fs.renameSync(part, file);
      this.stats.downloads++;
      this.stats.bytesDownloaded += r.contentLength ?? 0;
      return file;
    } catch (e) {
      fs.rmSync(part, { force: true });
      if (statusOf(e) === 412 || isNotFound(e)) throw new StaleBlobError(container, blobPath, etag);
      throw e;
    }
  }
}

function touch(file: string): void {
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // Pruned meanwhile by another process: the caller's next read will fail loudly.
  }
}
