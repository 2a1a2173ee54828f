/**
 * The FileStore of shared/file-store.ts as one Blob container: a put is an upload that
 * replaces (the same name always gets the same bytes), with the content type and metadata
 * given. Reads do not create the container: a missing container is a missing file.
 */
import type { FileOptions, FileStore } from '../file-store';
import { isNotFound } from './status';
import type { Storage } from './storage';

export class BlobFileStore implements FileStore {
  constructor(
    private readonly storage: Storage,
    readonly container: string,
  ) {}

  async put(name: string, data: Uint8Array | string, opts: FileOptions): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await (await this.storage.container(this.container)).getBlockBlobClient(name).uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: opts.contentType },
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    });
  }

  async putFile(name: string, localPath: string, contentType: string): Promise<void> {
    await (
      await this.storage.container(this.container)
    )
      .getBlockBlobClient(name)
      .uploadFile(localPath, { blobHTTPHeaders: { blobContentType: contentType } });
  }

  async read(name: string): Promise<Buffer | undefined> {
    try {
      return await this.storage.blobs.getContainerClient(this.container).getBlobClient(name).downloadToBuffer();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }
}
