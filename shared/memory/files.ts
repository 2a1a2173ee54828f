/**
 * Files in memory (the FileStore of shared/file-store.ts): bytes by name for one container
 * name; a put replaces, a read is a copy (content types are Blob headers: nothing here reads them).
 */
import fs from 'node:fs';
import type { FileOptions, FileStore } from '../file-store';

export class MemoryFileStore implements FileStore {
  private readonly files = new Map<string, Buffer>();

  constructor(readonly container: string) {}

  async put(name: string, data: Uint8Array | string, _opts: FileOptions): Promise<void> {
    this.files.set(name, Buffer.from(data));
  }

  async putFile(name: string, localPath: string, _contentType: string): Promise<void> {
    this.files.set(name, await fs.promises.readFile(localPath));
  }

  async read(name: string): Promise<Buffer | undefined> {
    const f = this.files.get(name);
    return f && Buffer.from(f);
  }
}
