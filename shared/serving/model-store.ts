/**
 * Where the model registry keeps models: each model's state (aliases, traffic, production
 * history), its immutable versions, its change history, its content claims, and the ONNX
 * artifacts. The rules (what a registration, an alias, a promotion changes) are registry.ts's;
 * a ModelStore only stores, atomically per model. Kept by shared/azure/model-table.ts (one Table
 * partition per model, artifacts in Blob) and shared/memory/models.ts.
 *
 *   models()                    every model's state
 *   state(model)                its state and the number of history entries, or undefined
 *   createState(state)          a new model's state (a no-op when it exists: the first creation wins)
 *   update(model, change)       read-modify-write: see ModelChange
 *   claim(model, key)           the version a content claim made, or undefined
 *   versions(model), version(model, v), history(model)
 *   putArtifact(ref, bytes), readArtifact(ref)   content-addressed bytes
 */
import type { ArtifactRef, HistoryEntry, ModelState, ModelVersion } from './model-types';

/** What one change writes with the new state: its history entries, and for a registration the version and its content claim. */
export interface ModelUpdate {
  state: ModelState;
  history: HistoryEntry[];
  version?: ModelVersion;
  claim?: { key: string; version: number };
}

/**
 * `change` gets a copy of the current state and the count of history entries so far, and
 * returns what to write (undefined: nothing changes). It is applied all or nothing, only over
 * the state as read: when another writer changed the model first, the store reads again and
 * calls `change` again, unless the update carries a content claim that someone else has made
 * meanwhile (then `{ claimed }`, the version that claim made). Errors `change` throws pass
 * through unchanged; a model that keeps changing ends in a ConflictError saying to try again.
 */
export type ModelChange = (current: ModelState, historyCount: number) => ModelUpdate | undefined;

export type ModelUpdateResult = { state: ModelState } | { claimed: number } | 'missing';

export interface ModelStore {
  models(): Promise<ModelState[]>;
  state(model: string): Promise<{ state: ModelState; historyCount: number } | undefined>;
  createState(state: ModelState): Promise<void>;
  update(model: string, change: ModelChange): Promise<ModelUpdateResult>;
  claim(model: string, key: string): Promise<number | undefined>;
  versions(model: string): Promise<ModelVersion[]>;
  version(model: string, version: number): Promise<ModelVersion | undefined>;
  history(model: string): Promise<HistoryEntry[]>;
  putArtifact(ref: ArtifactRef, bytes: Uint8Array, meta: { model: string }): Promise<void>;
  readArtifact(ref: ArtifactRef): Promise<Buffer>;
}
