/**
 * What the model registry keeps, as plain data: a model's state (aliases, traffic, production
 * history), its immutable versions with their artifact reference, and its change history. The
 * registry's rules (registry.ts) and the stores that keep them (model-store.ts and its
 * backends) both speak these types, so they live apart from either.
 */
import type { ArtifactCheck } from './artifact-check';
import type { ModelSignature } from './signature';

/** Percent of live (non-shadow) traffic per alias; sums to 100, resolution 0.01 (one routing bucket). */
export interface TrafficPolicy {
  production: number;
  canary: number;
}

export interface ArtifactRef {
  blob: string;
  sha256: string;
  bytes: number;
}

export interface ModelVersion {
  model: string;
  version: number;
  artifact: ArtifactRef;
  signature: ModelSignature;
  description?: string;
  tags: Record<string, string>;
  createdAt: number;
  /** What the registration check saw: tensors and the sample run. */
  check: ArtifactCheck;
}

export interface ModelState {
  model: string;
  description?: string;
  latestVersion: number;
  aliases: Record<string, number>;
  traffic: TrafficPolicy;
  /** Production versions in the order they took over; rollback pops the last. */
  productionHistory: number[];
  createdAt: number;
  updatedAt: number;
}

export type HistoryAction = 'register' | 'alias' | 'traffic' | 'promote' | 'rollback';
export interface HistoryEntry {
  seq: number;
  at: number;
  action: HistoryAction;
  alias?: string;
  /** Version the alias pointed to before (absent = unset). */
  from?: number;
  /** Version it points to after (absent = unset). */
  to?: number;
  traffic?: TrafficPolicy;
}
