/**
 * Training sets in memory (the TrainingSetStore of features/pit/training-set-store.ts): records
 * and file bytes in maps, each with an etag that changes when it is written.
 */
import fs from 'node:fs';
import type { TrainingSetResult } from '../features/pit/training-set';
import type { TrainingSetRecord, TrainingSetStore } from '../features/pit/training-set-store';
import { copyOf } from './copy';

export class MemoryTrainingSetStore implements TrainingSetStore {
  private readonly recordsById = new Map<string, { record: TrainingSetRecord; token: string }>();
  private readonly files = new Map<string, { bytes: Buffer; etag: string }>();
  private seq = 0;

  async readRecord(id: string): Promise<TrainingSetResult | undefined> {
    const r = this.recordsById.get(id);
    return r && (copyOf(r.record) as TrainingSetResult);
  }

  async createRecord(record: TrainingSetResult): Promise<'created' | 'taken'> {
    if (this.recordsById.has(record.id)) return 'taken';
    this.recordsById.set(record.id, { record: copyOf(record), token: this.token() });
    return 'created';
  }

  async records(): Promise<Array<{ record: TrainingSetRecord; token: string }>> {
    return [...this.recordsById.values()].map((r) => ({ record: copyOf(r.record), token: r.token }));
  }

  async replaceRecord(record: TrainingSetRecord, token: string): Promise<{ token: string } | 'conflict'> {
    const r = this.recordsById.get(record.id);
    if (!r || (token !== '*' && r.token !== token)) return 'conflict';
    const next = { record: copyOf(record), token: this.token() };
    this.recordsById.set(record.id, next);
    return { token: next.token };
  }

  async fileInfo(name: string): Promise<{ size: number; etag: string } | undefined> {
    const f = this.files.get(name);
    return f && { size: f.bytes.length, etag: f.etag };
  }

  async putFileOnce(name: string, localPath: string): Promise<void> {
    const bytes = await fs.promises.readFile(localPath);
    if (!this.files.has(name)) this.files.set(name, { bytes, etag: this.token() });
  }

  async downloadFile(name: string, localPath: string, etag: string): Promise<void> {
    const f = this.files.get(name);
    if (!f || f.etag !== etag) throw new Error(`training set file ${name} is not at ${etag}`);
    await fs.promises.writeFile(localPath, f.bytes);
  }

  async readRange(name: string, start: number, count: number, etag: string): Promise<Buffer | 'changed'> {
    const f = this.files.get(name);
    if (!f || f.etag !== etag) return 'changed';
    return Buffer.from(f.bytes.subarray(start, start + count));
  }

  private token(): string {
    return `"m${++this.seq}"`;
  }
}
