/**
 * GET /api/metrics: Prometheus text (prom-client) of serving — requests, predictions and
 * errors per model version, and the latency histogram with fixed buckets (sum them across
 * instances) — and of ingest (records accepted/rejected/late per source, rows per view). Function key, not anonymous: the numbers reveal model names and traffic;
 * a scraper passes the key as `?code=` (Prometheus `params: { code: [...] }`) or the
 * x-functions-key header, and never needs the admin key.
 */
import { app } from '@azure/functions';
import { platform } from '../shared/platform';
import { handled } from './http';

app.http('metrics', {
  methods: ['GET'],
  route: 'metrics',
  authLevel: 'function',
  handler: handled(async () => {
    const p = platform();
    const m = await p.serving().metricsText();
    return { headers: { 'content-type': m.contentType }, body: `${m.body.trimEnd()}\n${await p.ingestMetrics.registry.metrics()}` };
  }),
});
