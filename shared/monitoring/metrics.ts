/**
 * Monitoring's Prometheus gauges, for GET /api/metrics. They are read from the results
 * store at scrape time (the newest computed window of each monitored version, cached for
 * 30 s), not kept in process memory: the timer fires on one instance of many, and every
 * instance must answer a scrape with the same numbers.
 *
 *   strata_drift_score{model,version,feature,method}      the statistic the verdict was read from
 *   strata_drift_detected{model,version,feature}          1 drifted, 0 not (features, prediction, `dataset`)
 *   strata_data_quality_null_rate{model,version,feature}
 *   strata_data_quality_out_of_range_share{model,version,feature}
 *   strata_data_quality_unknown_category_share{model,version,feature}
 *   strata_data_quality_defaulted_share{model,version,feature}
 *   strata_data_quality_feature_age_seconds{model,version,feature,quantile}  age of the online values used (0.5, 0.95, 1 = max)
 *   strata_data_quality_contract_violation_share{model,version,output}
 *   strata_model_performance{model,version,kind,metric}   kind = realized | estimated
 *   strata_monitoring_window_end_seconds{model,version}   end of the window these come from
 */
import { Registry, type Gauge } from 'prom-client';
import { ScrapeSnapshot, scrapedMetrics } from '../telemetry/scrape-time';
import type { MonitoringResultStore } from './store/results';
import { windowMetrics, type WindowResult } from './window-result';

export interface MonitoringMetricsDeps {
  results: MonitoringResultStore;
  monitored: () => Promise<Array<{ model: string; version: number }>>;
  windowMs: number;
  now?: () => number;
}

const CACHE_MS = 30_000;
/** How far back the newest computed window is looked for. */
const LOOKBACK_WINDOWS = 48;

export class MonitoringMetrics {
  readonly registry = new Registry();

  constructor(private readonly d: MonitoringMetricsDeps) {
    // Storage unreachable: the last numbers (or none) rather than a failed scrape of every other metric.
    const latest = new ScrapeSnapshot((now) => this.latest(now), {
      cacheMs: CACHE_MS,
      empty: [],
      ...(d.now ? { now: d.now } : {}),
    });
    const m = scrapedMetrics(this.registry, latest);
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (g: Gauge<L>, w: WindowResult) => void,
    ) =>
      m.gauge({ name, help, labelNames }, (g, windows) => {
        for (const w of windows) fill(g, w);
      });
    const points = (w: WindowResult, metric: string) => windowMetrics(w).filter((p) => p.metric === metric);
    const v = (w: WindowResult) => ({ model: w.model, version: String(w.version) });
    gauge(
      'strata_drift_score',
      'Drift statistic of the newest window per feature (p-value for ks/chi_square, distance otherwise)',
      ['model', 'version', 'feature', 'method'],
      (g, w) => {
        for (const p of points(w, 'drift_score'))
          g.set({ ...v(w), feature: p.subject, method: p.method ?? '' }, p.value);
      },
    );
    gauge(
      'strata_drift_detected',
      'Whether the newest window drifted (1) per feature, the prediction, and the dataset',
      ['model', 'version', 'feature'],
      (g, w) => {
        for (const p of points(w, 'drift_detected')) g.set({ ...v(w), feature: p.subject }, p.value);
        for (const p of points(w, 'dataset_drift')) g.set({ ...v(w), feature: 'dataset' }, p.value);
      },
    );
    for (const [metric, help] of [
      ['null_rate', 'Share of missing values'],
      ['out_of_range_share', 'Share of values outside the training range'],
      ['unknown_category_share', 'Share of categories training never saw'],
      ['defaulted_share', 'Share of predictions that used the default (missing or stale online value)'],
    ] as const) {
      gauge(
        `strata_data_quality_${metric}`,
        `${help}, newest window, per feature`,
        ['model', 'version', 'feature'],
        (g, w) => {
          for (const p of points(w, metric)) g.set({ ...v(w), feature: p.subject }, p.value);
        },
      );
    }
    gauge(
      'strata_data_quality_feature_age_seconds',
      'Age of the online value a prediction used (prediction time minus its event time), newest window, per feature',
      ['model', 'version', 'feature', 'quantile'],
      (g, w) => {
        for (const [quantile, metric] of [
          ['0.5', 'feature_age_p50_ms'],
          ['0.95', 'feature_age_p95_ms'],
          ['1', 'feature_age_max_ms'],
        ] as const)
          for (const p of points(w, metric)) g.set({ ...v(w), feature: p.subject, quantile }, p.value / 1000);
      },
    );
    gauge(
      'strata_data_quality_contract_violation_share',
      'Share of predictions breaking their output contract, newest window',
      ['model', 'version', 'output'],
      (g, w) => {
        for (const p of points(w, 'contract_violation_share')) g.set({ ...v(w), output: p.subject }, p.value);
      },
    );
    gauge(
      'strata_model_performance',
      'Model performance in the newest window, realized (labels) or estimated (CBPE)',
      ['model', 'version', 'kind', 'metric'],
      (g, w) => {
        for (const p of windowMetrics(w))
          if (p.metric.startsWith('performance_'))
            g.set({ ...v(w), kind: p.subject, metric: p.metric.slice('performance_'.length) }, p.value);
      },
    );
    gauge(
      'strata_monitoring_window_end_seconds',
      'End of the newest computed monitoring window (epoch seconds)',
      ['model', 'version'],
      (g, w) => g.set(v(w), w.end / 1000),
    );
  }

  /** The newest computed window of each monitored version. */
  private async latest(now: number): Promise<WindowResult[]> {
    const out: WindowResult[] = [];
    for (const { model, version } of await this.d.monitored()) {
      const ws = await this.d.results.listWindows(model, { version, from: now - LOOKBACK_WINDOWS * this.d.windowMs });
      const newest = ws.filter((w) => w.status === 'computed' && w.rows > 0).at(-1);
      if (newest) out.push(newest);
    }
    return out;
  }
}
