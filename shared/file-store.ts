/**
 * Files a job writes for later steps and later readers, by name inside one container: the
 * train job's model and baseline (`training-runs/<job>/...`) and the label spines it builds
 * (`spines/train/<job>.parquet`). Other records refer to a file as `<container>/<name>`
 * (pathOf), so the store's container is part of the contract. A job's re-run writes the same
 * name again with the same bytes (names come from the job id), so a put replaces.
 * Kept by shared/azure/file-blobs.ts (a Blob container) and shared/memory/files.ts.
 *
 *   put(name, data, { contentType, metadata })   write bytes (or a string, as UTF-8)
 *   putFile(name, localPath, contentType)         upload a local file
 *   read(name)                                     its bytes, or undefined when there is none
 */
export interface FileStore {
  readonly container: string;
  put(name: string, data: Uint8Array | string, opts: FileOptions): Promise<void>;
  putFile(name: string, localPath: string, contentType: string): Promise<void>;
  read(name: string): Promise<Buffer | undefined>;
}

export interface FileOptions {
  contentType: string;
  metadata?: Record<string, string>;
}

/** How other records name a file of the store: `<container>/<name>`. */
export const pathOf = (store: Pick<FileStore, 'container'>, name: string): string => `${store.container}/${name}`;
