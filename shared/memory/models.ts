/**
 * The model registry's models in memory (the ModelStore of serving/model-store.ts): for tests
 * of the registry's rules without Azure and for a process that needs no shared state. An update
 * is applied whole within one turn of the event loop, so it never loses a race; a content claim
 * already made answers with its version, as the Table store's does after a lost race. Values go
 * in and out as copies.
 */
import type { ModelChange, ModelStore, ModelUpdateResult } from '../serving/model-store';
import type { ArtifactRef, HistoryEntry, ModelState, ModelVersion } from '../serving/registry';
import { copyOf } from './copy';

interface StoredModel {
  state: ModelState;
  versions: Map<number, ModelVersion>;
  history: HistoryEntry[];
  claims: Map<string, number>;
}

export class MemoryModelStore implements ModelStore {
  private readonly byName = new Map<string, StoredModel>();
  private readonly artifacts = new Map<string, Buffer>();

  async models(): Promise<ModelState[]> {
    return [...this.byName.values()].map((m) => copyOf(m.state));
  }

  async state(model: string): Promise<{ state: ModelState; historyCount: number } | undefined> {
    const m = this.byName.get(model);
    return m && { state: copyOf(m.state), historyCount: m.history.length };
  }

  async createState(state: ModelState): Promise<void> {
    if (!this.byName.has(state.model))
      this.byName.set(state.model, { state: copyOf(state), versions: new Map(), history: [], claims: new Map() });
  }

  async update(model: string, change: ModelChange): Promise<ModelUpdateResult> {
    const m = this.byName.get(model);
    if (!m) return 'missing';
    const u = change(copyOf(m.state), m.history.length);
    if (!u) return { state: copyOf(m.state) };
    const claimed = u.claim && m.claims.get(u.claim.key);
    if (claimed !== undefined) return { claimed };
    m.state = copyOf(u.state);
    if (u.version) m.versions.set(u.version.version, copyOf(u.version));
    if (u.claim) m.claims.set(u.claim.key, u.claim.version);
    m.history.push(...u.history.map(copyOf));
    return { state: copyOf(u.state) };
  }

  async claim(model: string, key: string): Promise<number | undefined> {
    return this.byName.get(model)?.claims.get(key);
  }

  async versions(model: string): Promise<ModelVersion[]> {
    const m = this.byName.get(model);
    return m ? [...m.versions.values()].sort((a, b) => a.version - b.version).map(copyOf) : [];
  }

  async version(model: string, version: number): Promise<ModelVersion | undefined> {
    const v = this.byName.get(model)?.versions.get(version);
    return v && copyOf(v);
  }

  async history(model: string): Promise<HistoryEntry[]> {
    return (this.byName.get(model)?.history ?? []).map(copyOf);
  }

  async putArtifact(ref: ArtifactRef, bytes: Uint8Array): Promise<void> {
    this.artifacts.set(ref.blob, Buffer.from(bytes));
  }

  async readArtifact(ref: ArtifactRef): Promise<Buffer> {
    const b = this.artifacts.get(ref.blob);
    if (!b) throw new Error(`no artifact ${ref.blob}`);
    return Buffer.from(b);
  }
}
