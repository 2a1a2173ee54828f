/**
 * GET /api/metrics: Prometheus text (prom-client) of serving — requests, predictions and
 * errors per model version, and the latency histogram with fixed buckets (sum them across
 * instances) — of ingest (records accepted/rejected/late per source, rows per view), of
 * monitoring, and of training jobs (read from the run store): every registry of
 * platform().metricRegistries() and trainingJobMetrics(). Function key, not anonymous: the numbers reveal model names and traffic;
 * a scraper passes the key as `?code=` (Prometheus `params: { code: [...] }`) or the
 * x-functions-key header, and never needs the admin key.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { trainingJobMetrics } from '../shared/training/deps';
import { handled } from './http';

export const metricsHandler = handled(async function metricsHandler() {
  const p = platform();
  p.serving(); // its metrics are listed from the first scrape on, even before a prediction
  await p.monitoring().catch(() => undefined); // its gauges too (storage down: the others still answer)
  const registries = [...p.metricRegistries(), trainingJobMetrics().registry];
  const texts = await Promise.all(registries.map((r) => r.metrics()));
  return {
    headers: { 'content-type': registries[0]!.contentType },
    body: `${texts
      .map((t) => t.trimEnd())
      .filter(Boolean)
      .join('\n')}\n`,
  };
});

app.http('metrics', {
  methods: ['GET'],
  route: 'metrics',
  authLevel: 'function',
  handler: metricsHandler,
});
