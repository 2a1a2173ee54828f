/**
 * Store partition summaries in memory (the SummaryStore of monitoring/store-summaries.ts): one
 * per (view, day), a put replacing it, listed oldest day first. Values go in and out as copies.
 */
import type { StoredSummary, SummaryStore } from '../monitoring/store-summaries';
import { copyOf } from './copy';

export class MemorySummaryStore implements SummaryStore {
  private readonly byView = new Map<string, Map<string, StoredSummary>>();

  async get(view: string, day: string): Promise<StoredSummary | undefined> {
    const s = this.byView.get(view)?.get(day);
    return s && copyOf(s);
  }

  async put(s: StoredSummary): Promise<void> {
    let days = this.byView.get(s.view);
    if (!days) this.byView.set(s.view, (days = new Map()));
    days.set(s.day, copyOf(s));
  }

  async list(view: string, r: { fromDay?: string; toDay?: string } = {}): Promise<StoredSummary[]> {
    return [...(this.byView.get(view)?.values() ?? [])]
      .filter((s) => (r.fromDay === undefined || s.day >= r.fromDay) && (r.toDay === undefined || s.day < r.toDay))
      .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0))
      .map(copyOf);
  }
}
