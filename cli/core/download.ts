/**
 * Downloading a training set's data in byte ranges (GET /api/training-sets/{id}/data with
 * Range and If-Match), so a set of any size arrives in bounded answers, with a progress bar,
 * into a temporary file renamed into place when complete.
 */
import type { ApiClient } from './client';
import { Failed } from './errors';
import { writeAtomically } from './files';
import type { Output } from './output';
import { startProgress } from './progress';

/** Bytes asked per request (the app answers at most 32 MiB). */
export const DOWNLOAD_CHUNK_BYTES = 8 * 1024 * 1024;

export async function downloadTrainingSet(
  api: ApiClient,
  out: Output,
  id: string,
  format: 'parquet' | 'csv',
  target: string,
  chunkBytes = DOWNLOAD_CHUNK_BYTES,
): Promise<{ bytes: number; etag: string | null }> {
  const progress = startProgress(out, { title: `download ${id}.${format}`, total: 0, unit: 'bytes' });
  let written = 0;
  let etag: string | null = null;
  try {
    await writeAtomically(target, async (fd) => {
      let size = Infinity;
      while (written < size) {
        const res = await api.request('GET', `/api/training-sets/${encodeURIComponent(id)}/data`, {
          query: { format },
          headers: { range: `bytes=${written}-${written + chunkBytes - 1}`, ...(etag ? { 'if-match': etag } : {}) },
          timeoutMs: 10 * 60_000,
        });
        const body = Buffer.from(await res.arrayBuffer());
        etag ??= res.headers.get('etag');
        if (res.status === 200) {
          // The whole file (the app or a proxy in between ignored the range).
          if (written > 0)
            throw new Failed(
              `download of training set ${id}: the app sent the whole file in the middle of a ranged download`,
            );
          size = body.length;
        } else {
          const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
          if (!m || Number(m[1]) !== written || Number(m[2]) - Number(m[1]) + 1 !== body.length) {
            throw new Failed(
              `download of training set ${id}: unexpected answer for bytes ${written}- (Content-Range "${res.headers.get('content-range')}", ${body.length} bytes)`,
            );
          }
          size = Number(m[3]);
        }
        progress.setTotal(size);
        await fd.write(body);
        written += body.length;
        progress.update(written);
        if (body.length === 0) break;
      }
    });
  } finally {
    progress.stop();
  }
  return { bytes: written, etag };
}
