/**
 * The Prometheus -> OpenTelemetry bridge behind the Application Insights export, on the real
 * OpenTelemetry metrics SDK with its in-memory exporter: counters keep their name, labels
 * and total; histograms arrive as their _bucket (by le), _sum and _count series; metrics
 * registered later are picked up by refresh().
 */
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { PrometheusToOpenTelemetry } from '../../shared/telemetry/otel-bridge';

async function collect(
  reader: PeriodicExportingMetricReader,
): Promise<Map<string, Array<{ attributes: Record<string, unknown>; value: number }>>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, Array<{ attributes: Record<string, unknown>; value: number }>>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics)
      out.set(
        m.descriptor.name,
        m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value as number })),
      );
  }
  return out;
}

describe('PrometheusToOpenTelemetry', () => {
  it('reports counters and histogram series with their labels; later metrics after refresh()', async () => {
    const registry = new Registry();
    const requests = new Counter({
      name: 'x_requests_total',
      help: 'requests',
      labelNames: ['version'],
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'x_duration_seconds',
      help: 'latency',
      labelNames: ['version'],
      buckets: [0.01, 0.1],
      registers: [registry],
    });
    requests.inc({ version: '1' }, 3);
    requests.inc({ version: '2' });
    latency.observe({ version: '1' }, 0.005);
    latency.observe({ version: '1' }, 0.05);
    latency.observe({ version: '1' }, 5);

    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const provider = new MeterProvider({ readers: [reader] });
    const bridge = new PrometheusToOpenTelemetry(provider.getMeter('test'), () => [registry], { refreshMs: 3_600_000 });
    try {
      const got = await collect(reader);
      expect(got.get('x_requests_total')).toEqual([
        { attributes: { version: '1' }, value: 3 },
        { attributes: { version: '2' }, value: 1 },
      ]);
      expect(got.get('x_duration_seconds_bucket')).toEqual([
        { attributes: { le: '0.01', version: '1' }, value: 1 },
        { attributes: { le: '0.1', version: '1' }, value: 2 },
        { attributes: { le: '+Inf', version: '1' }, value: 3 },
      ]);
      expect(got.get('x_duration_seconds_count')).toEqual([{ attributes: { version: '1' }, value: 3 }]);
      expect(got.get('x_duration_seconds_sum')![0]!.value).toBeCloseTo(5.055, 9);

      const later = new Counter({ name: 'x_later_total', help: 'later', registers: [registry] });
      later.inc(7);
      expect((await collect(reader)).has('x_later_total')).toBe(false);
      bridge.refresh();
      expect((await collect(reader)).get('x_later_total')).toEqual([{ attributes: {}, value: 7 }]);
    } finally {
      bridge.stop();
      await provider.shutdown();
    }
  });
});
