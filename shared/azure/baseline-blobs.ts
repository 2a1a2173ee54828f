/**
 * The BaselineStore of monitoring/store/baselines.ts in Blob storage: one JSON document per
 * version, `baselines/<model>/<version>.json`, created with If-None-Match (a second write of
 * the same bytes is a no-op, of other bytes a ConflictError). A version's baseline never
 * changes, so what was read is cached for the process.
 */
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { Storage } from './storage';
import type { Baseline } from '../training/baseline';
import { baselineConflict, type BaselineStore } from '../monitoring/store/baselines';
import { isNotFound, statusOf } from './status';

export const BASELINE_CONTAINER = 'baselines';

export class BlobBaselineStore implements BaselineStore {
  private readonly cache = new Map<string, Baseline>();
  private constructor(private readonly container: ContainerClient) {}

  static async open(storage: Storage): Promise<BlobBaselineStore> {
    return new BlobBaselineStore(await storage.container(BASELINE_CONTAINER));
  }

  private path = (model: string, version: number) => `${model}/${version}.json`;

  async get(model: string, version: number): Promise<Baseline | undefined> {
    const key = this.path(model, version);
    const hit = this.cache.get(key);
    if (hit) return hit;
    try {
      const buf = await this.container.getBlockBlobClient(key).downloadToBuffer();
      const b = JSON.parse(buf.toString('utf8')) as Baseline;
      this.cache.set(key, b); // immutable per version
      return b;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async put(model: string, version: number, baseline: Baseline): Promise<void> {
    const text = JSON.stringify(baseline);
    const blob = this.container.getBlockBlobClient(this.path(model, version));
    try {
      await blob.upload(text, Buffer.byteLength(text), {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
    } catch (e) {
      if (statusOf(e) !== 409) throw e;
      const existing = (await blob.downloadToBuffer()).toString('utf8');
      const digest = (s: string) => createHash('sha256').update(s).digest('hex');
      if (digest(existing) !== digest(text)) throw baselineConflict(model, version);
    }
  }
}
