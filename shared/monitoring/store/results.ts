/**
 * Where window results live: a small contract (get one window, put one, list a model's
 * windows in a time range) so the pipeline, the APIs and the gauges never see Table storage.
 * Keyed by (model, version, window start): a window is written once per computation, and a
 * recompute (late data) replaces it. Each computed window also writes one row per (feature,
 * metric) (shared/azure/monitoring-results-table.ts), the per-metric rows the issue asks for.
 */
import type { MetricPoint, WindowKey, WindowResult } from '../window-result';

export interface WindowQuery {
  /** Window starts in [from, to). */
  from?: number;
  to?: number;
  version?: number;
}

/** What a run needs to know of a stored window to skip it or to order its recompute: no reports. */
export interface WindowState {
  start: number;
  version: number;
  status: WindowResult['status'];
  inputs: string;
  /** Absent for windows stored before it was kept (as are the fields below). */
  computedAt?: number;
  predictionInputs?: string;
  /** Its counts when computed (WindowResult rows and labelRows). */
  rows?: number;
  labelRows?: number;
}

/** A window's state from a result or a stored row of one (values of the wrong type are left out). */
export function windowStateOf(e: Partial<Record<keyof WindowState, unknown>>): WindowState {
  const number = (k: 'computedAt' | 'rows' | 'labelRows') => (typeof e[k] === 'number' ? { [k]: e[k] } : {});
  return {
    start: Number(e.start),
    version: Number(e.version),
    status: e.status as WindowState['status'],
    inputs: String(e.inputs ?? ''),
    ...number('computedAt'),
    ...(typeof e.predictionInputs === 'string' ? { predictionInputs: e.predictionInputs } : {}),
    ...number('rows'),
    ...number('labelRows'),
  };
}

/** The fields a WindowState holds, which a store keeps beside the report to read states alone. */
export const WINDOW_STATE_FIELDS = [
  'start',
  'version',
  'status',
  'inputs',
  'computedAt',
  'predictionInputs',
  'rows',
  'labelRows',
] as const satisfies ReadonlyArray<keyof WindowState>;

export interface MonitoringResultStore {
  /** The stored windows of one version in a range, without their reports (one cheap query per run). */
  windowStates(model: string, version: number, range: { from: number; to: number }): Promise<Map<number, WindowState>>;
  getWindow(key: WindowKey): Promise<WindowResult | undefined>;
  /** Store a window with its metric points, replacing what a previous computation of it stored (its points included). */
  putWindow(result: WindowResult, metrics: readonly MetricPoint[]): Promise<void>;
  /**
   * Store a window whose numbers are those stored, under a new fingerprint (a compaction merged
   * its segments): the window alone is written, its metric points stay as they are.
   */
  refreshWindow(result: WindowResult): Promise<void>;
  /** The metric points stored with a window, in (metric, subject) order. */
  metricPoints(key: WindowKey): Promise<MetricPoint[]>;
  /** A model's windows, oldest first. */
  listWindows(model: string, query?: WindowQuery): Promise<WindowResult[]>;
}
