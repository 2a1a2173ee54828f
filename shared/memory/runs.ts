/**
 * Training runs in memory (the RunStore of training/runs.ts): runs by id and trigger states by
 * model. An update is applied whole within one turn of the event loop, so racing updates never
 * lose one another, as the Table store's ETag retry promises; it stamps updatedAt as that one
 * does. Lists come newest first (ties by id). Values go in and out as copies.
 */
import { NotFoundError } from '../errors';
import type { RunQuery, RunStore, TrainingRun, TriggerState } from '../training/runs';
import { copyOf } from './copy';

export class MemoryRunStore implements RunStore {
  private readonly runs = new Map<string, TrainingRun>();
  private readonly triggers = new Map<string, TriggerState>();

  async create(run: TrainingRun): Promise<{ run: TrainingRun; created: boolean }> {
    const existing = this.runs.get(run.id);
    if (existing) return { run: copyOf(existing), created: false };
    this.runs.set(run.id, copyOf(run));
    return { run, created: true };
  }

  async get(id: string): Promise<TrainingRun | undefined> {
    const r = this.runs.get(id);
    return r && copyOf(r);
  }

  async update(id: string, change: (run: TrainingRun) => TrainingRun): Promise<TrainingRun> {
    const r = this.runs.get(id);
    if (!r) throw new NotFoundError(`no training run "${id}"`);
    const next = { ...change(copyOf(r)), updatedAt: Date.now() };
    this.runs.set(id, copyOf(next));
    return next;
  }

  async list(q: RunQuery = {}): Promise<TrainingRun[]> {
    const runs = [...this.runs.values()]
      .filter((r) => (q.model === undefined || r.model === q.model) && (!q.status || r.status === q.status))
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
      .map(copyOf);
    return q.limit ? runs.slice(0, q.limit) : runs;
  }

  async getTrigger(model: string): Promise<TriggerState | undefined> {
    const t = this.triggers.get(model);
    return t && { ...t };
  }

  async setTrigger(t: TriggerState): Promise<void> {
    this.triggers.set(t.model, { ...t });
  }
}
