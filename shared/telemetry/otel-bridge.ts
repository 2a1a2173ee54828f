/**
 * The Prometheus metrics (prom-client registries: serving, ingest, and whatever registers
 * later) as OpenTelemetry observable instruments, so an OpenTelemetry exporter (Application
 * Insights) reports the same numbers as GET /api/metrics without a second set of counters
 * to keep in step. At each export the instruments read the registries' current values:
 *   counter    -> observable counter of the same name (the exporter turns totals into deltas)
 *   gauge      -> observable gauge
 *   histogram  -> observable counters <name>_bucket (attribute le), <name>_sum and <name>_count,
 *                 i.e. the Prometheus series themselves, so quantiles can be computed the
 *                 same way on the other side (fixed buckets add up across instances)
 * Labels become attributes. Metrics created after start are picked up by `refresh()`, which
 * runs on an interval.
 */
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import type { Registry } from 'prom-client';

export interface BridgeOptions {
  /** How often to look for metrics registered since (default 5 s). */
  refreshMs?: number;
}

export class PrometheusToOpenTelemetry {
  private readonly bridged = new Set<string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly meter: Meter,
    private readonly registries: () => Registry[],
    opts: BridgeOptions = {},
  ) {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), opts.refreshMs ?? 5_000);
    this.timer.unref();
  }

  /** Create instruments for metrics not bridged yet. */
  refresh(): void {
    for (const registry of this.registries()) {
      for (const m of registry.getMetricsAsArray()) {
        const { name, help, type } = m as unknown as { name: string; help: string; type: string };
        if (this.bridged.has(name)) continue;
        this.bridged.add(name);
        const read = async () => (await registry.getSingleMetric(name)?.get())?.values ?? [];
        if (type === 'counter') {
          this.meter.createObservableCounter(name, { description: help }).addCallback(observe(read, name));
        } else if (type === 'gauge') {
          this.meter.createObservableGauge(name, { description: help }).addCallback(observe(read, name));
        } else if (type === 'histogram') {
          for (const part of ['bucket', 'sum', 'count']) {
            const series = `${name}_${part}`;
            this.meter
              .createObservableCounter(series, {
                description: `${help} (${part})`,
                ...(part === 'sum' ? { unit: 's' } : {}),
              })
              .addCallback(observe(read, series));
          }
        }
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

type Values = Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;

/** Report each value of `series` (a histogram's values carry metricName x_bucket/x_sum/x_count). */
function observe(read: () => Promise<Values>, series: string) {
  return async (result: ObservableResult): Promise<void> => {
    for (const v of await read()) {
      if (v.metricName !== undefined && v.metricName !== series) continue;
      const attributes: Attributes = {};
      for (const [k, x] of Object.entries(v.labels)) if (x !== undefined) attributes[k] = String(x);
      result.observe(v.value, attributes);
    }
  };
}
