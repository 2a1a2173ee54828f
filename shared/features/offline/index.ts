export * from './types';
export { OfflineStore, type OfflineStoreOptions, type SegmentQuery, type LocalSegments } from './store';
export { compactDay, compactView, type CompactionOptions, type CompactionResult } from './compaction';
export { gcOrphans, type GcOptions, type GcResult } from './gc';
export { Manifest, type ManifestEntry, type ManifestQuery, type ManifestStore } from './manifest';
export { BlobCache, StaleBlobError } from './cache';
export { OFFLINE_CONTAINER } from './segment-blobs';
export { segmentId, segmentBlobPath, eventDay } from './segment-id';
export { duckdb, withConnection } from './duckdb';
