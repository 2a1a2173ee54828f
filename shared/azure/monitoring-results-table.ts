/**
 * MonitoringResultStore on Table storage. Table `monitorwindows`: PartitionKey = model,
 * RowKey = `<window start ISO>|<version, 6 digits>`, so a model's windows in a time range are
 * one partition range scan in time order; the reports are JSON in body parts (table-json.ts).
 * Table `monitormetrics`: PartitionKey = model, RowKey = `<start>|<version>|<metric>|<subject>`,
 * one row per number of the window, written in batch transactions of 100 (one partition).
 */
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import type { Storage } from './storage';
import { byMetricAndSubject, type MetricPoint, type WindowKey, type WindowResult } from '../monitoring/window-result';
import {
  WINDOW_STATE_FIELDS,
  windowStateOf,
  type MonitoringResultStore,
  type WindowQuery,
  type WindowState,
} from '../monitoring/store/results';
import { forEachLimit } from '../concurrency';
import { isNotFound, jsonFromProperties, jsonProperties, keyPart, timeKey } from './table-json';

export const WINDOWS_TABLE = 'monitorwindows';
export const METRICS_TABLE = 'monitormetrics';

const versionKey = (v: number) => String(v).padStart(6, '0');
const rowKey = (k: WindowKey) => `${timeKey(k.start)}|${versionKey(k.version)}`;
/** A window's metric rows are `<its row key>|<metric>|<subject>`. */
const metricsPrefix = rowKey;

export class TableMonitoringResultStore implements MonitoringResultStore {
  private constructor(
    private readonly windows: TableClient,
    private readonly metrics: TableClient,
  ) {}

  static async open(storage: Storage): Promise<TableMonitoringResultStore> {
    return new TableMonitoringResultStore(...(await storage.tables(WINDOWS_TABLE, METRICS_TABLE)));
  }

  async getWindow(key: WindowKey): Promise<WindowResult | undefined> {
    try {
      return jsonFromProperties<WindowResult>(await this.windows.getEntity(keyPart(key.model), rowKey(key)));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async putWindow(result: WindowResult, metrics: readonly MetricPoint[]): Promise<void> {
    const pk = keyPart(result.model);
    const base = metricsPrefix(result);
    const upserts: TransactionAction[] = metrics.map((m) => [
      'upsert',
      {
        partitionKey: pk,
        rowKey: `${base}|${keyPart(m.metric)}|${keyPart(m.subject)}`,
        version: result.version,
        start: result.start,
        metric: m.metric,
        subject: m.subject,
        value: m.value,
        method: m.method ?? '',
      },
      'Replace',
    ]);
    const written = new Set(upserts.map(([, e]) => e.rowKey));
    const stale = (await this.metricRows(pk, base)).filter((e) => !written.has(e.rowKey));
    // Metric rows first: a window row is only visible once its numbers are. A crash before the
    // window row leaves its earlier state (other inputs), so the window is computed again.
    for (let i = 0; i < upserts.length; i += 100) await this.metrics.submitTransaction(upserts.slice(i, i + 100));
    // A recompute replaces the window's points: rows of the earlier one it has no number for go.
    // One by one, a missing row ignored: a run computing the same window at once may delete it
    // first, and one missing row would fail a whole transaction.
    await forEachLimit(stale, 8, (e) =>
      this.metrics.deleteEntity(pk, e.rowKey).then(
        () => undefined,
        (err: unknown) => {
          if (!isNotFound(err)) throw err;
        },
      ),
    );
    await this.refreshWindow(result);
  }

  async refreshWindow(result: WindowResult): Promise<void> {
    await this.windows.upsertEntity(
      {
        partitionKey: keyPart(result.model),
        rowKey: rowKey(result),
        ...windowStateOf(result),
        ...jsonProperties(result),
      },
      'Replace',
    );
  }

  async metricPoints(key: WindowKey): Promise<MetricPoint[]> {
    const rows = await this.metricRows(keyPart(key.model), metricsPrefix(key));
    return rows
      .map((e) => ({
        metric: String(e.metric),
        subject: String(e.subject),
        value: Number(e.value),
        ...(e.method ? { method: String(e.method) } : {}),
      }))
      .sort(byMetricAndSubject);
  }

  /** The metric rows of one window: the RowKeys after `<start>|<version>|` ('}' follows '|'). */
  private async metricRows(pk: string, prefix: string): Promise<Array<Record<string, unknown> & { rowKey: string }>> {
    const filter = odata`PartitionKey eq ${pk} and RowKey gt ${`${prefix}|`} and RowKey lt ${`${prefix}}`}`;
    const out: Array<Record<string, unknown> & { rowKey: string }> = [];
    for await (const e of this.metrics.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
      out.push(e as Record<string, unknown> & { rowKey: string });
    return out;
  }

  async windowStates(
    model: string,
    version: number,
    r: { from: number; to: number },
  ): Promise<Map<number, WindowState>> {
    const filter = odata`PartitionKey eq ${keyPart(model)} and RowKey ge ${timeKey(r.from)} and RowKey lt ${timeKey(r.to)} and version eq ${version}`;
    const out = new Map<number, WindowState>();
    for await (const e of this.windows.listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: [...WINDOW_STATE_FIELDS] },
    })) {
      const state = windowStateOf(e as Partial<Record<keyof WindowState, unknown>>);
      out.set(state.start, state);
    }
    return out;
  }

  async listWindows(model: string, q: WindowQuery = {}): Promise<WindowResult[]> {
    const pk = keyPart(model);
    const lo = q.from !== undefined ? timeKey(q.from) : '';
    const hi = q.to !== undefined ? timeKey(q.to) : '~';
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${lo} and RowKey lt ${hi}`;
    const out: WindowResult[] = [];
    for await (const e of this.windows.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      if (q.version !== undefined && Number(e.version) !== q.version) continue;
      out.push(jsonFromProperties<WindowResult>(e));
    }
    return out;
  }
}
