/**
 * Window results in memory (the MonitoringResultStore of monitoring/store/results.ts): one
 * result per (model, version, window start), a recompute replacing it, listed by start and
 * then version as the Table store's RowKeys order them, and its metric points, a recompute's
 * replacing the earlier ones. Values go in and out as copies.
 */
import { byMetricAndSubject, type MetricPoint, type WindowKey, type WindowResult } from '../monitoring/window-result';
import {
  windowStateOf,
  type MonitoringResultStore,
  type WindowQuery,
  type WindowState,
} from '../monitoring/store/results';
import { copyOf } from './copy';

export class MemoryMonitoringResultStore implements MonitoringResultStore {
  private readonly byModel = new Map<string, Map<string, WindowResult>>();
  private readonly points = new Map<string, MetricPoint[]>();

  async windowStates(
    model: string,
    version: number,
    r: { from: number; to: number },
  ): Promise<Map<number, WindowState>> {
    const out = new Map<number, WindowState>();
    for (const w of this.ordered(model))
      if (w.version === version && w.start >= r.from && w.start < r.to) out.set(w.start, windowStateOf(w));
    return out;
  }

  async getWindow(key: WindowKey): Promise<WindowResult | undefined> {
    const w = this.byModel.get(key.model)?.get(windowKey(key));
    return w && copyOf(w);
  }

  async putWindow(result: WindowResult, metrics: readonly MetricPoint[]): Promise<void> {
    // One point per (metric, subject), as the table's row keys make it; the points before the
    // window, as the table writes them.
    const unique = new Map(metrics.map((m) => [`${m.metric}\u0000${m.subject}`, { ...m }]));
    this.points.set(`${result.model}|${windowKey(result)}`, [...unique.values()].sort(byMetricAndSubject));
    await this.refreshWindow(result);
  }

  async refreshWindow(result: WindowResult): Promise<void> {
    let windows = this.byModel.get(result.model);
    if (!windows) this.byModel.set(result.model, (windows = new Map()));
    windows.set(windowKey(result), copyOf(result));
  }

  async metricPoints(key: WindowKey): Promise<MetricPoint[]> {
    return (this.points.get(`${key.model}|${windowKey(key)}`) ?? []).map((m) => ({ ...m }));
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
