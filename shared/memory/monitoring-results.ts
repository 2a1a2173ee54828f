/**
 * Window results in memory (the MonitoringResultStore of monitoring/store/results.ts): one
 * result per (model, version, window start), a recompute replacing it, listed by start and
 * then version as the Table store's RowKeys order them. The per-metric rows the Table store
 * writes beside each window are for queries outside the app; nothing in the contract reads
 * them, so memory keeps the window results only. Values go in and out as copies.
 */
import type { MetricPoint, WindowKey, WindowResult } from '../monitoring/window-result';
import type { MonitoringResultStore, WindowQuery, WindowState } from '../monitoring/store/results';
import { copyOf } from './copy';

export class MemoryMonitoringResultStore implements MonitoringResultStore {
  private readonly byModel = new Map<string, Map<string, WindowResult>>();

  async windowStates(
    model: string,
    version: number,
    r: { from: number; to: number },
  ): Promise<Map<number, WindowState>> {
    const out = new Map<number, WindowState>();
    for (const w of this.ordered(model))
      if (w.version === version && w.start >= r.from && w.start < r.to)
        out.set(w.start, { start: w.start, version: w.version, status: w.status, inputs: w.inputs });
    return out;
  }

  async getWindow(key: WindowKey): Promise<WindowResult | undefined> {
    const w = this.byModel.get(key.model)?.get(windowKey(key));
    return w && copyOf(w);
  }

  async putWindow(result: WindowResult, _metrics: readonly MetricPoint[]): Promise<void> {
    let windows = this.byModel.get(result.model);
    if (!windows) this.byModel.set(result.model, (windows = new Map()));
    windows.set(windowKey(result), copyOf(result));
  }

  async listWindows(model: string, q: WindowQuery = {}): Promise<WindowResult[]> {
    return this.ordered(model)
      .filter(
        (w) =>
          (q.from === undefined || w.start >= q.from) &&
          (q.to === undefined || w.start < q.to) &&
          (q.version === undefined || w.version === q.version),
      )
      .map(copyOf);
  }

  private ordered(model: string): WindowResult[] {
    return [...(this.byModel.get(model)?.values() ?? [])].sort((a, b) => a.start - b.start || a.version - b.version);
  }
}

const windowKey = (k: WindowKey) => `${k.start}|${k.version}`;
