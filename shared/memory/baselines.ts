/**
 * Training baselines in memory (the BaselineStore of monitoring/store/baselines.ts): each
 * version's document kept as the JSON text it was stored as, so a second put compares text
 * as the Blob store compares bytes (the same: a no-op; other: a ConflictError), and every get
 * is a fresh copy.
 */
import type { Baseline } from '../training/baseline';
import { baselineConflict, type BaselineStore } from '../monitoring/store/baselines';

export class MemoryBaselineStore implements BaselineStore {
  private readonly texts = new Map<string, string>();

  async get(model: string, version: number): Promise<Baseline | undefined> {
    const text = this.texts.get(`${model}/${version}`);
    return text === undefined ? undefined : (JSON.parse(text) as Baseline);
  }

  async put(model: string, version: number, baseline: Baseline): Promise<void> {
    const key = `${model}/${version}`;
    const text = JSON.stringify(baseline);
    const existing = this.texts.get(key);
    if (existing === undefined) this.texts.set(key, text);
    else if (existing !== text) throw baselineConflict(model, version);
  }
}
