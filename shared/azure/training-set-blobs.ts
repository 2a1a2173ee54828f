/**
 * Training sets in Blob storage (the TrainingSetStore of features/pit/training-set-store.ts):
 * container `training-sets`, `<id>.json` records beside `<id>.parquet` (and `<id>.csv`) files.
 * Write-once is `If-None-Match: *`, a record's token is its blob's ETag. Reads do not create
 * the container: a missing container is a missing set.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { contentTypeOf, type TrainingSetRecord, type TrainingSetStore } from '../features/pit/training-set-store';
import { TRAINING_SETS_CONTAINER, type TrainingSetResult } from '../features/pit/training-set';
import { isNotFound, isTaken, statusOf } from './status';
import type { Storage } from './storage';

export class TrainingSetBlobs implements TrainingSetStore {
  constructor(private readonly storage: Storage) {}

  /** For writes: the container exists when it resolves. */
  private created(): Promise<ContainerClient> {
    return this.storage.container(TRAINING_SETS_CONTAINER);
  }

  /** For reads: no request to create it. */
  private get container(): ContainerClient {
    return this.storage.blobs.getContainerClient(TRAINING_SETS_CONTAINER);
  }

  async readRecord(id: string): Promise<TrainingSetResult | undefined> {
    try {
      return JSON.parse(
        (await this.container.getBlockBlobClient(`${id}.json`).downloadToBuffer()).toString('utf8'),
      ) as TrainingSetResult;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async createRecord(record: TrainingSetResult): Promise<'created' | 'taken'> {
    const text = JSON.stringify(record, null, 2);
    try {
      await (await this.created()).getBlockBlobClient(`${record.id}.json`).upload(text, Buffer.byteLength(text), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
        conditions: { ifNoneMatch: '*' },
      });
      return 'created';
    } catch (e) {
      if (isTaken(e)) return 'taken';
      throw e;
    }
  }

  async records(): Promise<Array<{ record: TrainingSetRecord; token: string }>> {
    const container = await this.created();
    const out: Array<{ record: TrainingSetRecord; token: string }> = [];
    for await (const b of container.listBlobsFlat()) {
      if (!b.name.endsWith('.json')) continue;
      const text = (await container.getBlockBlobClient(b.name).downloadToBuffer()).toString('utf8');
      let rec: TrainingSetRecord;
      try {
        rec = JSON.parse(text) as TrainingSetRecord;
      } catch {
        continue; // not a training-set record
      }
      out.push({ record: { ...rec, id: rec.id ?? b.name.replace(/\.json$/, '') }, token: b.properties.etag! });
    }
    return out;
  }

  async replaceRecord(record: TrainingSetRecord, token: string): Promise<{ token: string } | 'conflict'> {
    const text = JSON.stringify(record, null, 2);
    try {
      const res = await (
        await this.created()
      )
        .getBlockBlobClient(`${record.id}.json`)
        .upload(text, Buffer.byteLength(text), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
          conditions: { ifMatch: token },
        });
      return { token: res.etag! };
    } catch (e) {
      if (isTaken(e)) return 'conflict';
      throw e;
    }
  }

  async fileInfo(name: string): Promise<{ size: number; etag: string } | undefined> {
    try {
      const p = await this.container.getBlockBlobClient(name).getProperties();
      return { size: p.contentLength ?? 0, etag: p.etag! };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async putFileOnce(name: string, localPath: string): Promise<void> {
    try {
      await (await this.created()).getBlockBlobClient(name).uploadFile(localPath, {
        blobHTTPHeaders: { blobContentType: contentTypeOf(name) },
        conditions: { ifNoneMatch: '*' },
      });
    } catch (e) {
      // Another builder wrote it first: the same bytes, keep theirs.
      if (!isTaken(e)) throw e;
    }
  }

  async downloadFile(name: string, localPath: string, etag: string): Promise<void> {
    await this.container
      .getBlockBlobClient(name)
      .downloadToFile(localPath, 0, undefined, { conditions: { ifMatch: etag } });
  }

  async readRange(name: string, start: number, count: number, etag: string): Promise<Buffer | 'changed'> {
    try {
      return await this.container
        .getBlockBlobClient(name)
        .downloadToBuffer(start, count, { conditions: { ifMatch: etag } });
    } catch (e) {
      if (statusOf(e) === 412) return 'changed';
      throw e;
    }
  }
}
